"""Generate ``sim/acumatica/fields.json`` from Acumatica's official OpenAPI (Default/24.200.001).

The simulator accepts and serves only fields listed there, so it cannot drift from the real
endpoint. Run from the repository root::

    python scripts/gen_acumatica_fields.py [path/to/Default_24.200.001.openapi.json]

The default input is the team reference copy beside the repository; the output is committed so
nothing reads it at run or test time. Output shape::

    {"endpoint": "Default/24.200.001",
     "entities": {"Contact": {"FirstName": "StringValue", "Address": {"object": "Address"},
                              "Attendees": {"array": "EventAttendee"}, ...}, ...},
     "system": ["id", "rowNumber", "note", "custom", "error", "files", "_links"]}

Only the entities the simulator serves and the detail/object types they reference are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT.parent / "shared" / "reference" / "acumatica" / "Default_24.200.001.openapi.json"
OUTPUT = ROOT / "sim" / "acumatica" / "fields.json"
TOP_LEVEL = ("Contact", "Email", "Task", "Event", "Employee", "BusinessAccount", "Case", "Lead", "Opportunity")
VALUE_TYPES = ("StringValue", "BooleanValue", "DateTimeValue", "GuidValue", "IntValue", "DecimalValue",
               "ShortValue", "LongValue", "ByteValue", "DoubleValue")


def _properties(schemas: dict[str, Any], name: str) -> dict[str, Any]:
    schema = schemas[name]
    props: dict[str, Any] = {}
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            continue
        props.update(part.get("properties", {}))
    return props


def _ref(spec: dict[str, Any]) -> str:
    return str(spec.get("$ref", "")).rsplit("/", 1)[-1]


def _field_type(spec: dict[str, Any]) -> str | dict[str, str]:
    if spec.get("type") == "array":
        return {"array": _ref(spec.get("items", {}))}
    ref = _ref(spec)
    if ref in VALUE_TYPES:
        return ref
    return {"object": ref}


def build(openapi: dict[str, Any]) -> dict[str, Any]:
    """The compact field list for the served entities and every type they reference."""
    schemas = openapi["components"]["schemas"]
    entities: dict[str, dict[str, Any]] = {}
    pending = list(TOP_LEVEL)
    while pending:
        name = pending.pop(0)
        if name in entities:
            continue
        fields = {key: _field_type(spec) for key, spec in sorted(_properties(schemas, name).items())}
        entities[name] = fields
        for kind in fields.values():
            if isinstance(kind, dict):
                pending.extend(kind.values())
    system = [*sorted(_properties(schemas, "Entity")), "_links"]
    return {"endpoint": "Default/24.200.001", "entities": entities, "system": system}


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_INPUT
    data = build(json.loads(source.read_text(encoding="utf-8")))
    OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(data['entities'])} types")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
