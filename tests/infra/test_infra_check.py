"""Steps 2 and 3 of the infra check: checkov runs, parse errors and unexplained findings fail it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.infra.conftest import FIXTURES, INFRA

# The first run installs checkov into .checkov-venv (about a minute); later runs reuse it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


BROKEN_DIR = "deliberately-broken"


@pytest.fixture(scope="module")
def combined_run(infra_check: ModuleType, checkov_bin: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """One full check (one checkov run, it is slow) over a copy of infra/ plus the broken fixtures."""
    copy = tmp_path_factory.mktemp("infra-check") / "infra"
    shutil.copytree(INFRA, copy)
    (copy / BROKEN_DIR).mkdir()
    for name in ("broken.bicep", "checkov_unparsable.bicep"):
        shutil.copy(FIXTURES / name, copy / BROKEN_DIR / name)
    problems, summary = infra_check.run(copy, INFRA / "checkov-suppressions.json")
    return [problems, summary]


def test_real_infra_passes_every_step(combined_run: list[Any]) -> None:
    problems, summary = combined_run
    real = [p for p in problems if BROKEN_DIR not in p.file]
    assert real == [], "\n".join(map(str, real))
    checkov_line = summary[-1]
    assert "0 failed" in checkov_line and "suppressed with a reason" in checkov_line
    assert not checkov_line.startswith("checkov: 0 passed")  # checkov really evaluated the templates


def test_broken_fixture_fails_both_parsers(combined_run: list[Any]) -> None:
    problems, _ = combined_run
    broken = {(p.step, Path(p.file).name) for p in problems if BROKEN_DIR in p.file}
    assert ("parse", "broken.bicep") in broken  # pycep-parser 0.7.1
    assert ("checkov", "broken.bicep") in broken  # from checkov's parsing_errors, although it exits 0


def test_file_only_checkov_cannot_parse_is_caught(combined_run: list[Any]) -> None:
    problems, _ = combined_run
    found = [p for p in problems if p.file.endswith("checkov_unparsable.bicep")]
    assert [(p.step, "could not parse" in p.message) for p in found] == [("checkov", True)]


def _report(failed: list[tuple[str, str]] = (), parsing_errors: list[str] = (),  # type: ignore[assignment]
            resources: int = 3) -> list[dict[str, Any]]:
    return [{
        "check_type": "bicep",
        "results": {
            "passed_checks": [{"check_id": "CKV_AZURE_1", "file_path": "/a.bicep"}],
            "failed_checks": [{"check_id": cid, "file_path": f, "check_name": "n", "resource": "r"}
                              for cid, f in failed],
            "skipped_checks": [],
            "parsing_errors": list(parsing_errors),
        },
        "summary": {"passed": 1, "failed": len(failed), "parsing_errors": len(parsing_errors),
                    "resource_count": resources},
    }]


def _suppressions(infra_check: ModuleType, checks: list[dict[str, str]]) -> Any:
    return infra_check.Suppressions({}, checks)


def test_unsuppressed_failure_fails(infra_check: ModuleType) -> None:
    problems, counts = infra_check.evaluate_checkov(
        _report([("CKV_AZURE_35", "/modules/storage.bicep")]), INFRA, 3, _suppressions(infra_check, []))
    assert counts["failed"] == 1
    assert "CKV_AZURE_35" in problems[0].message and problems[0].file == "modules/storage.bicep"


def test_suppressed_failure_passes_and_stale_entry_fails(infra_check: ModuleType) -> None:
    entries = [{"id": "CKV_AZURE_35", "file": "modules/storage.bicep", "reason": "a written reason here"},
               {"id": "CKV_AZURE_99", "reason": "matches nothing any more, so it is stale"}]
    problems, counts = infra_check.evaluate_checkov(
        _report([("CKV_AZURE_35", str(INFRA / "modules/storage.bicep"))]), INFRA, 3,
        _suppressions(infra_check, entries))
    assert counts == {"passed": 1, "failed": 0, "suppressed": 1, "parsing_errors": 0, "resources": 3}
    assert [(p.step, p.message.split()[0]) for p in problems] == [("suppressions", "CKV_AZURE_99")]


def test_suppression_for_another_file_does_not_apply(infra_check: ModuleType) -> None:
    entries = [{"id": "CKV_AZURE_35", "file": "modules/other.bicep", "reason": "a written reason here"}]
    problems, _ = infra_check.evaluate_checkov(
        _report([("CKV_AZURE_35", "/modules/storage.bicep")]), INFRA, 3, _suppressions(infra_check, entries))
    assert {p.step for p in problems} == {"checkov", "suppressions"}


def test_parse_errors_and_empty_scan_fail(infra_check: ModuleType) -> None:
    problems, _ = infra_check.evaluate_checkov(
        _report(parsing_errors=[str(INFRA / "main.bicep")]), INFRA, 3, _suppressions(infra_check, []))
    assert [(p.step, p.file) for p in problems] == [("checkov", "main.bicep")]
    problems, _ = infra_check.evaluate_checkov(_report(resources=0), INFRA, 5, _suppressions(infra_check, []))
    assert "scanned no resource" in problems[0].message


def test_suppression_without_reason_is_rejected(infra_check: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"checks": [{"id": "CKV_AZURE_35", "reason": "because"}],
                                "unparsable_files": [{"path": "x.bicep"}]}))
    _, problems = infra_check.Suppressions.load(path)
    assert len(problems) == 2 and all("reason" in p.message for p in problems)


def test_committed_suppressions_all_have_reasons(infra_check: ModuleType) -> None:
    suppressions, problems = infra_check.Suppressions.load(INFRA / "checkov-suppressions.json")
    assert problems == []
    assert list(suppressions.unparsable) == ["modules/entra-app.bicep"]
