"""Fixtures for the infrastructure tests: the repo paths, the parsed Bicep, the infra check module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
FIXTURES = Path(__file__).with_name("fixtures")


def _load_infra_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("infra_check", ROOT / "scripts" / "infra_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("infra_check", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def infra_check() -> ModuleType:
    return _load_infra_check()


@pytest.fixture(scope="session")
def parsed(infra_check: ModuleType) -> dict[str, dict[str, Any]]:
    """Every infra .bicep file parsed by pycep-parser, keyed by its path relative to infra/."""
    trees, problems = infra_check.parse_bicep(infra_check.bicep_files(INFRA))
    assert problems == [], problems
    return {path.relative_to(INFRA).as_posix(): tree for path, tree in trees.items()}


@pytest.fixture(scope="session")
def checkov_bin(infra_check: ModuleType) -> Path:
    """checkov in its own venv (created once, from infra/checkov-requirements.txt)."""
    return infra_check.ensure_checkov()
