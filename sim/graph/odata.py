"""OData query options: ``$select``, ``$top``, ``$skip``, ``$expand`` and the ``$filter`` subset we need.

``$filter`` grammar: comparisons ``path op literal`` (eq ne gt ge lt le), ``and``/``or``/``not``,
parentheses, and lambda ``collection/any(v: ...)`` (e.g.
``singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')``). String
comparisons are case-insensitive like Exchange's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sim.graph.errors import GraphError

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<dt>\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)?)
  | (?P<num>-?\d+(?:\.\d+)?(?![\w-]))
  | (?P<word>[A-Za-z_$][\w./$]*)
  | (?P<punct>[(),:])
)""", re.X)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}


SYSTEM_OPTIONS = {"$select", "$top", "$skip", "$filter", "$expand", "$orderby", "$count", "$search",
                  "$skiptoken", "$deltatoken", "$format"}


def check_options(query: Any) -> None:
    """400 for a system query option Graph does not know (``$selct``)."""
    for name in query:
        if name.startswith("$") and name.lower() not in SYSTEM_OPTIONS:
            raise GraphError(400, "BadRequest", f"Query option '{name[1:]}' is not allowed. Make sure that the "
                             "query option names are spelled correctly.")


def order_by(rows: list[tuple[Any, dict[str, Any]]], text: str | None) -> list[Any]:
    """Sort ``(item, row)`` pairs by ``$orderby`` (``a/b desc, c``); None sorts first ascending."""
    ordered = list(rows)
    for clause in reversed(split_top(text or "")):
        parts = clause.split()
        path, descending = parts[0], len(parts) > 1 and parts[1].lower() == "desc"
        if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in {"asc", "desc"}):
            raise GraphError(400, "BadRequest", f"Invalid $orderby clause '{clause}'.")

        def key(pair: tuple[Any, dict[str, Any]], path: str = path) -> tuple[int, Any]:
            value = resolve(path, pair[1], {})
            value = value.lower() if isinstance(value, str) else value
            return (0, "") if value is None else (1, value)

        ordered.sort(key=key, reverse=descending)
    return [item for item, _ in ordered]


def invalid_filter(text: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Invalid filter clause: {text}")


def tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid_filter(f"syntax error at position {pos} in '{text}'")
        pos = match.end()
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        elif kind == "word" and value.lower() in {"true", "false", "null"}:
            kind, value = "lit", {"true": True, "false": False, "null": None}[value.lower()]
        tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise invalid_filter(f"unexpected end of '{self.text}'")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        _, got = self.take()
        if got != value:
            raise invalid_filter(f"expected '{value}' but found '{got}' in '{self.text}'")

    def parse(self) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
        pred = self.expr()
        if self.peek() is not None:
            raise invalid_filter(f"unexpected '{self.peek()[1]}' in '{self.text}'")  # type: ignore[index]
        return pred

    def expr(self) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
        left = self.conjunction()
        while self._word("or"):
            right = self.conjunction()
            left = (lambda a, b: lambda row, env: a(row, env) or b(row, env))(left, right)
        return left

    def conjunction(self) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
        left = self.unary()
        while self._word("and"):
            right = self.unary()
            left = (lambda a, b: lambda row, env: a(row, env) and b(row, env))(left, right)
        return left

    def _word(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and str(token[1]).lower() == word:
            self.pos += 1
            return True
        return False

    def unary(self) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
        if self._word("not"):
            inner = self.unary()
            return lambda row, env: not inner(row, env)
        token = self.peek()
        if token and token[1] == "(" and token[0] == "punct":
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        kind, path = self.take()
        if kind != "word":
            raise invalid_filter(f"expected a property but found '{path}' in '{self.text}'")
        lowered = path.lower()
        if lowered.endswith("/any") or lowered.endswith("/all"):
            return self.lambda_(path[:-4], lowered.endswith("/all"))
        kind, op = self.take()
        if kind != "word" or op.lower() not in _OPS:
            raise invalid_filter(f"expected an operator after '{path}' in '{self.text}'")
        lit_kind, literal = self.take()
        if lit_kind not in {"str", "num", "lit", "dt"}:
            raise invalid_filter(f"expected a literal after '{op}' in '{self.text}'")
        return _comparison(path, op.lower(), literal)

    def lambda_(self, collection: str, every: bool) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
        self.expect("(")
        _, var = self.take()
        self.expect(":")
        inner = self.expr()
        self.expect(")")

        def test(row: dict[str, Any], env: dict[str, Any]) -> bool:
            values = resolve(collection, row, env) or []
            results = (inner(row, {**env, var: value}) for value in values)
            return all(results) if every else any(results)

        return test


def resolve(path: str, row: dict[str, Any], env: dict[str, Any]) -> Any:
    parts = path.split("/")
    value: Any = env[parts[0]] if parts[0] in env else _get(row, parts[0])
    for part in parts[1:]:
        value = _get(value, part) if isinstance(value, dict) else None
    return value


def _get(obj: dict[str, Any], key: str) -> Any:
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for name, value in obj.items():
        if name.lower() == lowered:
            return value
    return None


def _comparison(path: str, op: str, literal: Any) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    def test(row: dict[str, Any], env: dict[str, Any]) -> bool:
        value = resolve(path, row, env)
        left, right = value, literal
        if isinstance(left, str) and isinstance(right, str):
            left, right = left.lower(), right.lower()
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if left is None or right is None:
            return False
        try:
            return bool({"gt": left > right, "ge": left >= right, "lt": left < right,
                         "le": left <= right}[op])
        except TypeError:
            return False

    return test


def parse_filter(text: str | None) -> Predicate | None:
    if not text:
        return None
    pred = _Parser(text).parse()
    return lambda row: pred(row, {})


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for pos, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:pos])
            start = pos + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_expand(text: str | None) -> dict[str, dict[str, str]]:
    """``a,b($filter=...;$select=...)`` -> ``{"a": {}, "b": {"$filter": ..., "$select": ...}}``."""
    out: dict[str, dict[str, str]] = {}
    for part in split_top(text or ""):
        name, _, rest = part.partition("(")
        options: dict[str, str] = {}
        if rest:
            for opt in split_top(rest[:-1] if rest.endswith(")") else rest, ";"):
                key, _, value = opt.partition("=")
                options[key.strip().lower()] = value.strip()
        out[name.strip().lower()] = options
    return out


def parse_select(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


def int_option(query: dict[str, str] | Any, name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.") from exc
    if value < 0:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.")
    return value


def apply_select(row: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if not select:
        return row
    wanted = {s.lower() for s in select} | {"id"}
    return {k: v for k, v in row.items() if k.startswith("@") or k.lower() in wanted}
