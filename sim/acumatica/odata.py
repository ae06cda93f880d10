"""The OData v3 ``$filter`` subset Acumatica's contract-based REST API accepts.

Supported: ``eq ne gt ge lt le``, ``and or not``, parentheses, ``substringof('x', F)``,
``startswith(F, 'x')``, ``endswith(F, 'x')``; literals ``'text'`` (``''`` escapes a quote),
``datetimeoffset'…'``, ``datetime'…'``, ``guid'…'``, numbers, ``true``/``false``/``null``.
Field paths may name an object field with ``/`` (``Address/City``). Parsing raises
:class:`FilterError` with a message naming the offending token.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

TOKEN = re.compile(r"""
    \s*(?:
      (?P<typed>(?:datetimeoffset|datetime|guid)'(?:[^']*)')
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_./]*)
    )""", re.VERBOSE)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
UNIQUE = {"NoteID", "id"}
FUNCTIONS = {"substringof", "startswith", "endswith"}


class FilterError(ValueError):
    """The ``$filter`` expression is invalid."""


@dataclasses.dataclass(frozen=True)
class Field:
    path: str


@dataclasses.dataclass(frozen=True)
class Literal:
    value: Any


Node = Any  # tuples: ("and", a, b) | ("or", a, b) | ("not", a) | (op, left, right) | ("fn", name, args)


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or offset; naive means UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"$filter: unexpected text at position {pos}: {text[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, known: Callable[[str], bool]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.known = known

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("$filter: unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        _kind, text = self.take()
        if text != value:
            raise FilterError(f"$filter: expected {value!r}, got {text!r}")

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise FilterError(f"$filter: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek() == ("word", "or"):
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            node = ("and", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == ("word", "not"):
            self.take()
            return ("not", self.unary())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token is not None and token[0] == "word" and token[1] in COMPARISONS:
            self.take()
            return (token[1], left, self.operand())
        if isinstance(left, tuple):
            return left
        raise FilterError(f"$filter: expected a comparison after {left!r}")

    def operand(self) -> Node:
        kind, text = self.take()
        if text == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if kind == "typed":
            prefix, _, rest = text.partition("'")
            raw = rest[:-1]
            if prefix == "guid":
                return Literal(raw.lower())
            try:
                return Literal(parse_datetime(raw))
            except ValueError as exc:
                raise FilterError(f"$filter: invalid {prefix} literal {raw!r}") from exc
        if kind == "string":
            return Literal(text[1:-1].replace("''", "'"))
        if kind == "number":
            return Literal(float(text) if "." in text else int(text))
        if kind == "word":
            if text in ("true", "false"):
                return Literal(text == "true")
            if text == "null":
                return Literal(None)
            if text in FUNCTIONS:
                return self.function(text)
            if not self.known(text):
                raise FilterError(f"$filter: unknown field {text!r}")
            return Field(text)
        raise FilterError(f"$filter: unexpected {text!r}")

    def function(self, name: str) -> Node:
        self.expect("(")
        args = [self.operand()]
        while self.peek() == ("punct", ","):
            self.take()
            args.append(self.operand())
        self.expect(")")
        if len(args) != 2:
            raise FilterError(f"$filter: {name} takes two arguments")
        return ("fn", name, args)


def parse(text: str, known: Callable[[str], bool]) -> Node:
    """Parse ``text``; ``known(path)`` says whether a field path exists on the entity."""
    return _Parser(text, known).parse()


def _value(node: Any, record: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        value: Any = record
        for part in node.path.split("/"):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value
    return evaluate(node, record)


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, datetime):
        left = parse_datetime(left)
    if isinstance(right, str) and isinstance(left, datetime):
        right = parse_datetime(right)
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()  # SQL Server's default collation
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return bool({"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op])
    except TypeError:
        return False


def equality_keys(node: Node) -> tuple[str, frozenset[str]] | None:
    """``(field path, lower-cased texts)`` when ``node`` selects only rows whose field equals one of
    those texts: an or-chain of ``Field eq 'text'`` (or ``guid'…'``), perhaps and-ed with more. A
    query tests that set first, as a database would use its index, instead of evaluating every
    term of a long chain on every row."""
    if not isinstance(node, tuple):
        return None
    head = node[0]
    if head == "and":  # either side narrows; a record's own id (unique) narrows most
        sides = [keys for keys in (equality_keys(node[1]), equality_keys(node[2])) if keys is not None]
        return next((keys for keys in sides if keys[0] in UNIQUE), sides[0] if sides else None)
    if head == "or":
        left, right = equality_keys(node[1]), equality_keys(node[2])
        return (left[0], left[1] | right[1]) if left and right and left[0] == right[0] else None
    if head == "eq" and isinstance(node[1], Field) and isinstance(node[2], Literal) \
            and isinstance(node[2].value, str):
        return node[1].path, frozenset({node[2].value.lower()})
    return None


def candidates(node: Node, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows ``node`` can select, narrowed by :func:`equality_keys` (order kept)."""
    keys = equality_keys(node)
    if keys is None:
        return rows
    path, texts = keys
    field = Field(path)
    return [r for r in rows if isinstance(value := _value(field, r), str) and value.lower() in texts]


def evaluate(node: Node, record: Mapping[str, Any]) -> Any:
    """The value of ``node`` for one record (plain values, details not wrapped)."""
    if isinstance(node, Literal | Field):
        return _value(node, record)
    head = node[0]
    if head == "and":
        return bool(evaluate(node[1], record)) and bool(evaluate(node[2], record))
    if head == "or":
        return bool(evaluate(node[1], record)) or bool(evaluate(node[2], record))
    if head == "not":
        return not evaluate(node[1], record)
    if head == "fn":
        a, b = (str(_value(arg, record) or "").lower() for arg in node[2])
        if node[1] == "substringof":
            return a in b
        return a.startswith(b) if node[1] == "startswith" else a.endswith(b)
    return _compare(head, _value(node[1], record), _value(node[2], record))
