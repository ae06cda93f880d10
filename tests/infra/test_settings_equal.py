"""One list of app settings: ``shared/settings.py`` (with each setting's scope and the platform's
own settings), ``infra/main.bicep``'s app settings, ``local.settings.sample.json`` and the tables of
``docs/configuration.md`` name the same settings, each where it belongs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shared.settings import PLATFORM_SETTINGS, setting_names
from tests.infra.conftest import ROOT

CODE = set(setting_names())
LOCAL, OPTIONAL, BOTH = (set(setting_names(s)) for s in ("local", "optional", "both"))
PLATFORM = {name: where for name, (where, _) in PLATFORM_SETTINGS.items()}
PLATFORM_AZURE = {n for n, w in PLATFORM.items() if w in ("azure", "both")}
PLATFORM_LOCAL = {n for n, w in PLATFORM.items() if w in ("local", "both")}


@pytest.fixture(scope="module")
def bicep(parsed: dict[str, dict[str, Any]]) -> set[str]:
    return set(parsed["main.bicep"]["variables"]["appSettings"]["value"])


def _sample() -> set[str]:
    return set(json.loads((ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))["Values"])


def _doc_rows() -> dict[str, list[str]]:
    """Every table row of docs/configuration.md whose first cell is a `SETTING`: its other cells."""
    rows: dict[str, list[str]] = {}
    for line in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([A-Za-z_]+)` \|(.*)\|$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} is documented twice"
            rows[match.group(1)] = [c.strip() for c in match.group(2).split("|")]
    return rows


def test_scopes_partition_the_code_settings() -> None:
    assert LOCAL | OPTIONAL | BOTH == CODE and not (LOCAL & OPTIONAL or LOCAL & BOTH or OPTIONAL & BOTH)
    assert not CODE & set(PLATFORM)


def test_the_deployment_sets_every_azure_setting_and_nothing_unknown(bicep: set[str]) -> None:
    assert sorted((BOTH | PLATFORM_AZURE) - bicep) == [], "missing from appSettings in infra/main.bicep"
    unknown = bicep - CODE - set(PLATFORM)
    assert sorted(unknown) == [], "deployed but read by nothing: declare them in shared/settings.py or remove them"
    assert sorted(bicep & (LOCAL | (set(PLATFORM) - PLATFORM_AZURE))) == [], "local-only settings reach Azure"


def test_the_local_sample_lists_exactly_the_local_settings() -> None:
    assert sorted(_sample() ^ (CODE | PLATFORM_LOCAL)) == []


def test_the_docs_table_every_setting_with_its_scope() -> None:
    rows = _doc_rows()
    assert sorted(set(rows) ^ (CODE | set(PLATFORM))) == []
    for name in CODE:
        assert rows[name][1] in ("local", "optional", "both") and name in setting_names(rows[name][1]), name
    for name, where in PLATFORM.items():
        assert rows[name][0] == where, name
