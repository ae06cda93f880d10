"""The Graph permission list has one source: shared/graph_permissions.json (Bicep, doctor, docs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.permissions import PERMISSIONS_FILE, optional_permissions, required_permissions
from tests.infra.conftest import INFRA, ROOT

DOCS = ROOT / "docs" / "deploy.md"
ENTRY_POINTS = ("main.bicep", "entra.bicep")


def _load_json_paths(tree: dict[str, Any]) -> list[str]:
    return [var["value"]["function"]["parameters"]["file_path"]
            for var in tree.get("variables", {}).values()
            if isinstance(var.get("value"), dict)
            and var["value"].get("function", {}).get("type") == "load_json_content"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_bicep_loads_the_shared_permission_file(parsed: dict[str, dict[str, Any]], entry: str) -> None:
    paths = _load_json_paths(parsed[entry])
    assert paths == ["../shared/graph_permissions.json"]
    assert (INFRA / paths[0]).resolve() == PERMISSIONS_FILE.resolve()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_the_loaded_list_is_what_the_entra_module_grants(parsed: dict[str, dict[str, Any]], entry: str) -> None:
    params = parsed[entry]["modules"]["entraApp"]["config"]
    params = params.get("config", params)["params"]  # main.bicep deploys it conditionally
    assert params["permissions"] == "graphPermissions"
    module = parsed["modules/entra-app.bicep"]
    assert module["resources"]["grants"]["type"] == "Microsoft.Graph/appRoleAssignedTo"
    assert module["resources"]["app"]["type"] == "Microsoft.Graph/applications"


def test_no_template_copies_the_list() -> None:
    data = json.loads(PERMISSIONS_FILE.read_text(encoding="utf-8"))
    ids = [p["id"] for p in data["required"] + data["optional"]]
    required_names = [p["name"] for p in data["required"]]
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text(encoding="utf-8")
        assert not [i for i in ids if i in text], f"{path} copies permission ids"
        assert not [n for n in required_names if f"'{n}'" in text], f"{path} copies permission names"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_optional_names_the_templates_select_exist(entry: str) -> None:
    text = (INFRA / entry).read_text(encoding="utf-8")
    block = text[text.index("var optionalPermissionNames"):].split("\n\n")[0]
    selected = set(re.findall(r"'([A-Za-z]+\.[A-Za-z.]+)'", block))
    assert selected == {p.name for p in optional_permissions()}


def _docs_table() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("<!-- graph-permissions:begin -->")[1].split("<!-- graph-permissions:end -->")[0]
    rows = [line.strip().strip("|").split("|") for line in section.strip().splitlines()[2:]]
    return {cells[0].strip(): cells[1].strip() for cells in rows}


def test_docs_list_exactly_the_same_permissions() -> None:
    table = _docs_table()
    expected = {p.name: "required" for p in required_permissions()}
    expected |= {p.name: "optional" for p in optional_permissions()}
    assert table == expected


def test_docs_table_would_catch_a_missing_permission(tmp_path: Path) -> None:
    """The comparison above is not vacuous: a table without one row differs."""
    table = _docs_table()
    table.pop(required_permissions()[0].name)
    assert set(table) != {p.name for p in required_permissions() + optional_permissions()}
