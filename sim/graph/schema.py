"""Request-body strictness against the generated v1.0 schema (``schema.json``, see scripts/gen_graph_schema.py).

An unknown property or a value of the wrong type is a 400 ``RequestBodyRead`` naming the property
and the type, the way Graph answers. Enum values are accepted in any case, as Graph does
(``"contentType": "Text"``), and rewritten in place to the CSDL's own casing, so what is stored and
answered reads like Graph's responses. ``@odata.type`` may name the expected type or a derived one;
other annotations (``x@odata.bind``, ``@odata.etag``) are accepted.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
from pathlib import Path
from typing import Any

from sim.graph.errors import GraphError
from sim.graph.ids import parse_stamp

SCHEMA_FILE = Path(__file__).with_name("schema.json")
NS = "microsoft.graph."
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_INTS = {"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"}
_NUMS = {"Edm.Double", "Edm.Single", "Edm.Decimal"}


@functools.cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return data


def full(name: str) -> str:
    return name if name.startswith(NS) else NS + name


def type_info(name: str) -> dict[str, Any]:
    info: dict[str, Any] = schema()["types"][full(name)]
    return info


def properties(name: str) -> dict[str, str]:
    props: dict[str, str] = type_info(name)["properties"]
    return props


def is_derived(candidate: str, base: str) -> bool:
    types = schema()["types"]
    current: str | None = candidate
    while current:
        if current == base:
            return True
        current = types.get(current, {}).get("base")
    return False


def read_error(message: str) -> GraphError:
    return GraphError(400, "RequestBodyRead", message)


def validate(body: Any, type_name: str, where: str = "") -> None:
    """Raise GraphError 400 if ``body`` is not a valid instance of ``type_name``."""
    expected = full(type_name)
    if not isinstance(body, dict):
        raise read_error(f"An unexpected '{_node(body)}' node was found when reading a resource of type "
                         f"'{expected}'{_at(where)}; a 'StartObject' node was expected.")
    actual = _annotated_type(body, expected)
    info = schema()["types"][actual]
    props, navs = info["properties"], info["navigation"]
    for key, value in list(body.items()):
        if "@" in key:
            continue
        if key in props:
            checked = _check_value(value, props[key], f"{where}{key}", actual)
            if checked is not value:
                body[key] = checked
        elif key in navs:
            _check_nav(value, navs[key], f"{where}{key}")
        else:
            raise read_error(
                f"The property '{key}' does not exist on type '{actual}'. Make sure to only use property "
                "names that are defined by the type or mark the type as open type.")


def _annotated_type(body: dict[str, Any], expected: str) -> str:
    annotated = body.get("@odata.type")
    if annotated is None:
        return expected
    name = str(annotated).lstrip("#")
    name = full(name) if not name.startswith(NS) and "." not in name else name
    if name not in schema()["types"]:
        raise read_error(f"A type named '{name}' could not be resolved by the model. When a model is "
                         "available, each type name must resolve to a valid type.")
    if not is_derived(name, expected):
        raise read_error(f"A resource with type '{name}' was found, but it is not assignable to the "
                         f"expected type '{expected}'.")
    return name


def _check_nav(value: Any, nav_type: str, where: str) -> None:
    element = nav_type[len("Collection("):-1] if nav_type.startswith("Collection(") else nav_type
    values = value if nav_type.startswith("Collection(") else [value]
    if not isinstance(values, list):
        raise read_error(f"Cannot read property '{where}': a collection of '{element}' was expected.")
    if element in schema()["types"]:
        for index, entry in enumerate(values):
            validate(entry, element, f"{where}[{index}].")


def _enum_value(value: Any, type_name: str, where: str) -> str:
    """The member(s) of ``value`` in the CSDL's casing (flags enums: comma-separated)."""
    members = schema()["enums"][type_name]
    canonical = {member.lower(): member for member in members}
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else [None]
    found = [canonical.get(part.lower()) if part is not None else None for part in parts]
    if any(member is None for member in found):
        raise read_error(f"Cannot convert the literal '{value}' to the expected type '{type_name}' "
                         f"(property '{where}'); valid values: {', '.join(members)}.")
    normalized = ",".join(str(member) for member in found)
    return value if normalized == value else normalized


def _check_value(value: Any, declared: str, where: str, owner: str) -> Any:
    """``value`` if valid for ``declared`` (enum members rewritten to their CSDL casing), else a 400."""
    nullable = not declared.endswith("!")
    type_name = declared.rstrip("!")
    if value is None:
        if nullable or type_name.startswith("Collection("):
            return value
        raise read_error(f"A null value was found for the property named '{where}', which has the "
                         f"expected type '{type_name}[Nullable=False]'. The expected type "
                         f"'{type_name}[Nullable=False]' does not allow null values.")
    if type_name.startswith("Collection("):
        if not isinstance(value, list):
            raise read_error(f"Cannot convert the value of property '{where}' on type '{owner}': "
                             f"a collection ('{type_name}') was expected, found '{_node(value)}'.")
        element = type_name[len("Collection("):-1]
        for index, entry in enumerate(value):
            checked = _check_value(entry, element, f"{where}[{index}]", owner)
            if checked is not entry:
                value[index] = checked
        return value
    if type_name in schema()["types"]:
        validate(value, type_name, f"{where}.")
        return value
    if type_name in schema()["enums"]:
        return _enum_value(value, type_name, where)
    if not _primitive_ok(value, type_name):
        raise read_error(f"Cannot convert the literal '{value}' to the expected type '{type_name}' "
                         f"(property '{where}' on type '{owner}').")
    return value


def _primitive_ok(value: Any, type_name: str) -> bool:
    if type_name in _INTS:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name in _NUMS:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "Edm.Boolean":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    try:
        if type_name == "Edm.DateTimeOffset":
            parse_stamp(value)
        elif type_name == "Edm.Date":
            return bool(_DATE.match(value))
        elif type_name == "Edm.Guid":
            uuid.UUID(value)
        elif type_name == "Edm.Binary":
            base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return False
    return True


def _node(value: Any) -> str:
    if isinstance(value, dict):
        return "StartObject"
    if isinstance(value, list):
        return "StartArray"
    return "PrimitiveValue"


def _at(where: str) -> str:
    return f" (property '{where.rstrip('.')}')" if where else ""


def empty_instance(type_name: str) -> dict[str, Any]:
    """Every structural property of an entity type set to null or [] (how Graph lists an item)."""
    out: dict[str, Any] = {}
    for name, declared in properties(type_name).items():
        out[name] = [] if declared.startswith("Collection(") else None
    return out


def action_params(body: dict[str, Any], names: list[str], action: str) -> dict[str, Any]:
    """An action's parameters by canonical name (Graph matches them case-insensitively)."""
    canonical = {name.lower(): name for name in names}
    out: dict[str, Any] = {}
    for key, value in body.items():
        if "@" in key:
            continue
        name = canonical.get(key.lower())
        if name is None:
            raise read_error(f"The parameter '{key}' in the request payload is not a valid parameter for the "
                             f"operation '{action}'.")
        out[name] = value
    return out
