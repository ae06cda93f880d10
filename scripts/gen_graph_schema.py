#!/usr/bin/env python3
"""Generate ``sim/graph/schema.json``: a compact schema of the Graph v1.0 types the simulator serves.

Reads the official CSDL (default ``../shared/reference/graph/graph-v1.0-csdl.xml`` beside the repo),
keeps the entity and complex types listed in ``ROOTS`` plus every complex and enum type they
reference (transitively) and every listed derived type, flattens base types, and writes::

    {"types": {"microsoft.graph.contact": {"base": ..., "abstract": bool, "open": bool,
               "properties": {"displayName": "Edm.String", "id": "Edm.String!", ...},
               "navigation": {"singleValueExtendedProperties":
                              "Collection(microsoft.graph.singleValueLegacyExtendedProperty)"}}},
     "enums": {"microsoft.graph.importance": ["low", "normal", "high"]}}

A trailing ``!`` marks a non-nullable property. Run: ``python scripts/gen_graph_schema.py [CSDL] [OUT]``.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSDL = ROOT.parent / "shared" / "reference" / "graph" / "graph-v1.0-csdl.xml"
DEFAULT_OUT = ROOT / "sim" / "graph" / "schema.json"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
NS = "microsoft.graph"
ROOTS = [
    "user", "contact", "contactFolder", "message", "mailFolder", "event", "calendar",
    "todoTask", "todoTaskList", "linkedResource", "checklistItem", "outlookCategory",
    "attachment", "fileAttachment", "itemAttachment", "referenceAttachment", "uploadSession",
    "attachmentItem", "subscription", "singleValueLegacyExtendedProperty",
    "multiValueLegacyExtendedProperty", "application", "passwordCredential", "emailAddress",
    "recipient", "attendee", "attendeeBase", "itemBody", "dateTimeTimeZone", "physicalAddress",
    "location", "followupFlag", "internetMessageHeader", "patternedRecurrence", "responseStatus",
    "onlineMeetingInfo", "outlookGeoCoordinates", "timeSlot", "changeNotification",
    "changeNotificationCollection", "resourceData", "mailboxSettings",
]


def _qualify(type_name: str) -> str:
    return type_name.replace("graph.", f"{NS}.", 1) if type_name.startswith("graph.") else type_name


def _element_type(type_name: str) -> str:
    return type_name[len("Collection("):-1] if type_name.startswith("Collection(") else type_name


def load(csdl: Path) -> tuple[dict[str, ET.Element], dict[str, list[str]]]:
    tree = ET.parse(csdl)  # noqa: S314 - Microsoft's published CSDL from the team's reference folder
    types: dict[str, ET.Element] = {}
    enums: dict[str, list[str]] = {}
    for schema in tree.getroot().iter(f"{EDM}Schema"):
        if schema.get("Namespace") != NS:
            continue
        for node in schema:
            name = node.get("Name")
            if node.tag in {f"{EDM}EntityType", f"{EDM}ComplexType"} and name:
                types[f"{NS}.{name}"] = node
            elif node.tag == f"{EDM}EnumType" and name:
                enums[f"{NS}.{name}"] = [m.get("Name", "") for m in node.iter(f"{EDM}Member")]
    return types, enums


def flatten(name: str, types: dict[str, ET.Element]) -> dict[str, Any]:
    chain: list[ET.Element] = []
    current: str | None = name
    while current:
        node = types[current]
        chain.append(node)
        base = node.get("BaseType")
        current = _qualify(base) if base else None
    props: dict[str, str] = {}
    navs: dict[str, str] = {}
    for node in reversed(chain):
        for prop in node.findall(f"{EDM}Property"):
            ptype = _qualify(_qualify_collection(prop.get("Type", "")))
            props[prop.get("Name", "")] = ptype + ("!" if prop.get("Nullable") == "false" else "")
        for nav in node.findall(f"{EDM}NavigationProperty"):
            navs[nav.get("Name", "")] = _qualify_collection(nav.get("Type", ""))
    node = types[name]
    base = node.get("BaseType")
    return {"base": _qualify(base) if base else None, "abstract": node.get("Abstract") == "true",
            "open": node.get("OpenType") == "true", "properties": props, "navigation": navs}


def _qualify_collection(type_name: str) -> str:
    if type_name.startswith("Collection("):
        return f"Collection({_qualify(_element_type(type_name))})"
    return _qualify(type_name)


def build(csdl: Path) -> dict[str, Any]:
    types, enums = load(csdl)
    wanted = [f"{NS}.{r}" for r in ROOTS]
    out_types: dict[str, Any] = {}
    out_enums: dict[str, list[str]] = {}
    queue = list(wanted)
    while queue:
        name = queue.pop()
        if name in out_types or name in out_enums:
            continue
        if name in enums:
            out_enums[name] = enums[name]
            continue
        if name not in types:
            continue
        entry = flatten(name, types)
        out_types[name] = entry
        is_entity = types[name].tag == f"{EDM}EntityType"
        for ptype in entry["properties"].values():
            ref = _element_type(ptype.rstrip("!"))
            if ref.startswith(f"{NS}."):
                queue.append(ref)
        if entry["base"] and not is_entity:
            queue.append(entry["base"])
    return {"source": "graph-v1.0-csdl.xml", "types": dict(sorted(out_types.items())),
            "enums": dict(sorted(out_enums.items()))}


def main(argv: list[str]) -> int:
    csdl = Path(argv[1]) if len(argv) > 1 else DEFAULT_CSDL
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    schema = build(csdl)
    out.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n")
    print(f"wrote {out}: {len(schema['types'])} types, {len(schema['enums'])} enums")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
