"""Layout rules: the Graph extension is configured once and used only by its own module."""

from __future__ import annotations

import json
import re

from tests.infra.conftest import INFRA


def test_bicepconfig_declares_the_graph_v1_extension() -> None:
    config = json.loads((INFRA / "bicepconfig.json").read_text(encoding="utf-8"))
    ref = config["extensions"]["microsoftGraphV1"]
    assert re.fullmatch(r"br:mcr\.microsoft\.com/bicep/extensions/microsoftgraph/v1\.0:\d+\.\d+\.\d+", ref)


def test_only_the_entra_module_uses_the_extension() -> None:
    users = sorted(path.relative_to(INFRA).as_posix() for path in INFRA.rglob("*.bicep")
                   if re.search(r"^\s*extension\s", path.read_text(encoding="utf-8"), re.MULTILINE))
    assert users == ["modules/entra-app.bicep"]
    graph_users = sorted(path.relative_to(INFRA).as_posix() for path in INFRA.rglob("*.bicep")
                         if "'Microsoft.Graph/" in path.read_text(encoding="utf-8"))
    assert graph_users == ["modules/entra-app.bicep"]


def test_every_module_reference_resolves() -> None:
    for path in INFRA.rglob("*.bicep"):
        for ref in re.findall(r"^module\s+\w+\s+'([^']+)'", path.read_text(encoding="utf-8"), re.MULTILINE):
            assert (path.parent / ref).is_file(), f"{path.name} -> {ref}"
        for ref in re.findall(r"load(?:Text|Json)Content\('([^']+)'", path.read_text(encoding="utf-8")):
            assert (path.parent / ref).is_file(), f"{path.name} -> {ref}"
