"""``make package``: the deployment zip holds what ``.funcignore`` lets through plus Linux wheels of
``requirements.txt``, and a clean interpreter indexes every function from the unpacked zip alone,
the way the Python worker indexes a v2 app."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

import function_app
from devhost.host import functions_of
from tests.deploy.conftest import ROOT, package, run

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def indexed(unpacked: Path, bare_python: Path) -> dict[str, Any]:
    out = run(bare_python, HERE / "index_package.py", unpacked, cwd=unpacked, env={"PATH": "/usr/bin:/bin"})
    return json.loads(out)  # type: ignore[no-any-return]


def test_zip_holds_the_app_files_and_nothing_funcignore_excludes(package_zip: Path) -> None:
    names = zipfile.ZipFile(package_zip).namelist()
    app = {n for n in names if not n.startswith(package.SITE_PACKAGES)}
    expected = {p.relative_to(ROOT).as_posix() for p in package.app_files(ROOT)}
    assert app == expected
    assert {"function_app.py", "host.json", "requirements.txt", "shared/settings.py"} <= app
    patterns = package.ignore_patterns(ROOT)
    assert {"tests", "sim", "devhost", "local.settings.json"} <= set(patterns)
    assert [n for n in app if package.excluded(n, patterns)] == []
    assert not [n for n in names if n.endswith(".pyc") or "/__pycache__/" in n]


def test_dependencies_are_linux_cpython_311_builds(package_zip: Path) -> None:
    names = zipfile.ZipFile(package_zip).namelist()
    site = package.SITE_PACKAGES + "/"
    installed = {n[len(site):].split("/")[0].lower() for n in names if n.startswith(site)}
    for requirement in ("azure/", "msgraph", "pydantic_core", "aiohttp", "httpx"):
        assert any(i.startswith(requirement.rstrip("/")) for i in installed), requirement
    binaries = [n for n in names if n.endswith(".so")]
    assert binaries and all("cpython-311-x86_64-linux-gnu" in n or ".abi3." in n for n in binaries), binaries[:5]


def test_worker_indexes_every_function_from_the_zip_alone(indexed: dict[str, Any], unpacked: Path) -> None:
    root, stdlib = str(unpacked.resolve()), indexed["stdlib"]
    foreign = [f for f in indexed["files"] if not f.startswith((root, stdlib))]
    assert foreign == []
    assert indexed["apps"] == 1
    here = {fn.get_function_name(): fn for fn in functions_of(function_app.app)}
    assert sorted(f["name"] for f in indexed["functions"]) == sorted(here)
    for fn in indexed["functions"]:
        expected = [json.loads(raw) for raw in here[fn["name"]].get_raw_bindings()]
        assert fn["bindings"] == expected, fn["name"]
        trigger = [b for b in fn["bindings"] if b["type"].endswith("Trigger")]
        assert len(trigger) == 1 and trigger[0]["direction"] == "IN", fn["name"]
        inputs = {b["name"] for b in fn["bindings"] if b["name"] != "$return"}
        assert inputs == set(fn["parameters"]), fn["name"]
        assert fn["is_async"], fn["name"]


def test_bindings_resolve_their_settings_in_azure(indexed: dict[str, Any],
                                                  parsed: dict[str, dict[str, Any]]) -> None:
    """Settings in bindings (%NAME%) are app settings the deployment sets."""
    deployed = dict(parsed["main.bicep"]["variables"]["appSettings"]["value"])
    kinds: dict[str, int] = {}
    for fn in indexed["functions"]:
        for binding in fn["bindings"]:
            kinds[binding["type"]] = kinds.get(binding["type"], 0) + 1
            for value in (binding.get("queueName"), binding.get("schedule")):
                if isinstance(value, str) and value.startswith("%"):
                    name = value.strip("%").split("%")[0]
                    assert name in deployed, f"{fn['name']}: {name} is not deployed by infra/main.bicep"
    assert {"httpTrigger", "queueTrigger", "timerTrigger"} <= set(kinds)
