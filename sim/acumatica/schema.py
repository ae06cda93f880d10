"""The simulator's field list (generated from the official OpenAPI) and JSON <-> plain conversion.

``fields.json`` is produced by ``scripts/gen_acumatica_fields.py``. Records are kept as plain
Python values (``datetime`` for dates, lists of dicts for details, dicts for linked objects);
this module wraps them as ``{"value": …}`` for responses and unwraps request bodies, rejecting
fields the endpoint does not have (:class:`UnknownField`) and collecting per-field type errors.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sim.acumatica.odata import parse_datetime

FIELDS_FILE = Path(__file__).with_name("fields.json")
SYSTEM_FIELDS = ("id", "rowNumber", "note", "custom", "error", "files", "_links")
DETAIL_MARKERS = ("delete",)  # "delete": true on a detail line removes it


class UnknownField(ValueError):
    """A request names a field the endpoint does not have (answered with 400)."""


@cache
def field_list() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIELDS_FILE.read_text(encoding="utf-8"))
    return data


def fields_of(entity: str) -> dict[str, Any]:
    entities: dict[str, Any] = field_list()["entities"]
    return dict(entities[entity])


def has_path(entity: str, path: str) -> bool:
    """Whether ``path`` (``Field`` or ``Object/Field``) names a field of ``entity``."""
    first, _, rest = path.partition("/")
    if not rest:
        return first in fields_of(entity) or first in ("id", "note")
    kind = fields_of(entity).get(first)
    return isinstance(kind, dict) and "object" in kind and has_path(kind["object"], rest)


def format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _plain(kind: str, raw: Any) -> Any:
    """Convert one unwrapped JSON value; raise ValueError with the reason."""
    if raw is None:
        return None
    if kind == "StringValue":
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
    if kind == "BooleanValue":
        if not isinstance(raw, bool):
            raise ValueError("expected true or false")
        return raw
    if kind in ("IntValue", "ShortValue", "LongValue", "ByteValue"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError("expected an integer")
        return raw
    if kind in ("DecimalValue", "DoubleValue"):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError("expected a number")
        return raw
    if kind == "DateTimeValue":
        if not isinstance(raw, str):
            raise ValueError("expected an ISO 8601 date-time string")
        return parse_datetime(raw)
    if kind == "GuidValue":
        return str(uuid.UUID(str(raw)))
    raise ValueError(f"unsupported value type {kind}")


def _serve(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


def unwrap(entity: str, body: Any, errors: dict[str, str], prefix: str = "") -> dict[str, Any]:
    """A request body as plain values. Unknown fields raise; bad values land in ``errors``."""
    if not isinstance(body, dict):
        raise UnknownField(f"{prefix or entity}: expected a JSON object")
    fields = fields_of(entity)
    plain: dict[str, Any] = {}
    for name, raw in body.items():
        where = f"{prefix}{name}"
        if name in ("id",):
            plain["id"] = None if raw is None else str(raw)
            continue
        if name in ("rowNumber", "custom", "error", "files", "_links") or (prefix and name in DETAIL_MARKERS):
            if name in DETAIL_MARKERS:
                plain[name] = bool(raw)
            continue
        if name == "note":
            kind: Any = "StringValue"
        elif name in fields:
            kind = fields[name]
        else:
            raise UnknownField(f"{where}: the field is not part of the {entity} entity of "
                               f"{field_list()['endpoint']}")
        if isinstance(kind, dict) and "array" in kind:
            if not isinstance(raw, list):
                raise UnknownField(f"{where}: expected an array of detail lines")
            plain[name] = [unwrap(kind["array"], line, errors, f"{where}[{i}].")
                           for i, line in enumerate(raw)]
        elif isinstance(kind, dict):
            plain[name] = unwrap(kind["object"], raw, errors, f"{where}.")
        else:
            if not isinstance(raw, dict) or set(raw) - {"value", "error"}:
                raise UnknownField(f'{where}: values are wrapped as {{"value": ...}}')
            try:
                plain[name] = _plain(kind, raw.get("value"))
            except ValueError as exc:
                errors[where] = f"{where}: {exc}"
                plain[name] = raw.get("value")
    return plain


def wrap(entity: str, record: dict[str, Any], select: set[str] | None, expand: set[str],
         errors: dict[str, str] | None = None, prefix: str = "") -> dict[str, Any]:
    """A plain record as the API serves it (``$select``/``$expand`` applied, details on demand)."""
    fields = fields_of(entity)
    out: dict[str, Any] = {}
    if "id" in record:
        out["id"] = record["id"]
    out["rowNumber"] = record.get("rowNumber", 1)
    if "note" in record or not prefix:
        out["note"] = {"value": record.get("note")}
    for name, value in record.items():
        if name not in fields:
            continue
        kind = fields[name]
        where = f"{prefix}{name}"
        if isinstance(kind, dict):
            if name not in expand:
                continue
            sub = {e.partition("/")[2] for e in expand if e.startswith(f"{name}/")}
            if "array" in kind:
                out[name] = [wrap(kind["array"], dict(line, rowNumber=i + 1), None, sub, errors, f"{where}.")
                             for i, line in enumerate(value or [])]
            else:
                out[name] = wrap(kind["object"], value or {}, None, sub, errors, f"{where}.")
            continue
        if select is not None and name not in select:
            continue
        wrapped: dict[str, Any] = {"value": _serve(value)}
        if errors and where in errors:
            wrapped["error"] = errors[where]
        out[name] = wrapped
    out["custom"] = {}
    return out
