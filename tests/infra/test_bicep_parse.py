"""Step 1 of the infra check: every template parses with pycep-parser; .bicepparam files match."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.infra.conftest import FIXTURES, INFRA


def test_every_infra_template_parses(infra_check: ModuleType) -> None:
    files = infra_check.bicep_files(INFRA)
    names = {path.relative_to(INFRA).as_posix() for path in files}
    assert {"main.bicep", "modules/entra-app.bicep", "modules/functionapp.bicep"} <= names
    parsed, problems = infra_check.parse_bicep(files)
    assert problems == []
    assert len(parsed) == len(files)


def test_broken_fixture_fails_the_parse_step(infra_check: ModuleType, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "broken.bicep", tmp_path / "broken.bicep")
    problems, summary = infra_check.run(tmp_path, use_checkov=False)
    assert [(p.step, Path(p.file).name) for p in problems] == [("parse", "broken.bicep")]
    assert "0/1" in summary[0]
    assert infra_check.main(["--infra", str(tmp_path), "--no-checkov"]) == 1


def test_clean_copy_passes_the_parse_step(infra_check: ModuleType, tmp_path: Path) -> None:
    shutil.copytree(INFRA, tmp_path / "infra")
    assert infra_check.main(["--infra", str(tmp_path / "infra"), "--no-checkov"]) == 0


def test_bicepparam_names_only_declared_parameters(infra_check: ModuleType, tmp_path: Path) -> None:
    assert infra_check.check_bicepparam(INFRA / "main.bicepparam") == []
    shutil.copy(INFRA / "main.bicep", tmp_path / "main.bicep")
    params = tmp_path / "main.bicepparam"
    params.write_text("using 'main.bicep'\n\nparam namePrefix = 'x'\nparam maxInstances = 3\n"
                      "param erpUrl = 'https://erp'\nparam erpTenant = 'C'\nparam erpUsername = 'u'\n")
    problems = infra_check.check_bicepparam(params)
    assert [p.message for p in problems] == ["param maxInstances is not declared in main.bicep"]
    params.write_text("using 'missing.bicep'\n")
    assert "does not exist" in infra_check.check_bicepparam(params)[0].message


def test_bicepparam_must_set_required_parameters(infra_check: ModuleType, tmp_path: Path) -> None:
    shutil.copy(INFRA / "main.bicep", tmp_path / "main.bicep")
    params = tmp_path / "main.bicepparam"
    params.write_text("using 'main.bicep'\n\nparam erpUrl = 'https://erp'\nparam erpTenant = 'C'\n")
    assert [p.message for p in infra_check.check_bicepparam(params)] == [
        "param erpUsername is required by main.bicep but not set"]


def _mutated_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    text = (copy / file).read_text(encoding="utf-8")
    assert old in text
    (copy / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    syncQueueName: syncQueueName\n    tableNames:", "    syncQueue: syncQueueName\n    tableNames:",
     ["module storage passes syncQueue, which storage.bicep does not declare",
      "module storage does not pass syncQueueName, which storage.bicep requires"]),
    ("storage.outputs.tableEndpoint", "storage.outputs.tablesEndpoint",
     ["storage.outputs.tablesEndpoint: storage.bicep has no such output"]),
])
def test_module_calls_must_match_the_module(infra_check: ModuleType, tmp_path: Path, old: str, new: str,
                                            expected: list[str]) -> None:
    copy = _mutated_copy(tmp_path, "main.bicep", old, new)
    problems, _ = infra_check.run(copy, use_checkov=False)
    assert [p.message for p in problems if p.step == "modules"] == expected


def test_real_module_calls_match(infra_check: ModuleType) -> None:
    parsed, _ = infra_check.parse_bicep(infra_check.bicep_files(INFRA))
    assert infra_check.check_modules(parsed) == []
