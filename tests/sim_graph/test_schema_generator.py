"""scripts/gen_graph_schema.py on a small CSDL: base types flattened, references followed, nullability kept."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
CSDL = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EnumType Name="importance"><Member Name="low" Value="0"/><Member Name="high" Value="2"/></EnumType>
      <EntityType Name="entity" Abstract="true"><Property Name="id" Type="Edm.String" Nullable="false"/>
      </EntityType>
      <EntityType Name="outlookItem" BaseType="graph.entity" Abstract="true">
        <Property Name="categories" Type="Collection(Edm.String)"/></EntityType>
      <EntityType Name="contact" BaseType="graph.outlookItem" OpenType="true">
        <Property Name="givenName" Type="Edm.String"/>
        <Property Name="emailAddresses" Type="Collection(graph.emailAddress)"/>
        <NavigationProperty Name="singleValueExtendedProperties"
            Type="Collection(graph.singleValueLegacyExtendedProperty)" ContainsTarget="true"/>
      </EntityType>
      <EntityType Name="message" BaseType="graph.outlookItem">
        <Property Name="importance" Type="graph.importance"/></EntityType>
      <ComplexType Name="emailAddress"><Property Name="address" Type="Edm.String"/></ComplexType>
      <ComplexType Name="unused"><Property Name="x" Type="Edm.String"/></ComplexType>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_graph_schema", ROOT / "scripts" / "gen_graph_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_flattens_and_follows_references(tmp_path: Path) -> None:
    source = tmp_path / "mini.xml"
    source.write_text(CSDL)
    out = tmp_path / "schema.json"
    assert _generator().main(["gen", str(source), str(out)]) == 0
    schema = json.loads(out.read_text())
    contact = schema["types"]["microsoft.graph.contact"]
    assert contact["properties"] == {"id": "Edm.String!", "categories": "Collection(Edm.String)",
                                     "givenName": "Edm.String",
                                     "emailAddresses": "Collection(microsoft.graph.emailAddress)"}
    assert contact["base"] == "microsoft.graph.outlookItem" and contact["open"] is True
    assert "singleValueExtendedProperties" in contact["navigation"]
    assert "microsoft.graph.emailAddress" in schema["types"]
    assert "microsoft.graph.unused" not in schema["types"]
    assert schema["enums"]["microsoft.graph.importance"] == ["low", "high"]


def test_committed_schema_covers_the_served_types() -> None:
    schema = json.loads((ROOT / "sim" / "graph" / "schema.json").read_text())
    for name in ("contact", "message", "event", "todoTask", "todoTaskList", "contactFolder", "mailFolder",
                 "calendar", "outlookCategory", "attachment", "fileAttachment", "linkedResource", "subscription",
                 "singleValueLegacyExtendedProperty", "passwordCredential", "emailAddress", "recipient",
                 "itemBody", "dateTimeTimeZone", "physicalAddress", "attendee", "location"):
        assert f"microsoft.graph.{name}" in schema["types"], name
    assert "preset24" in schema["enums"]["microsoft.graph.categoryColor"]
