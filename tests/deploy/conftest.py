"""Session fixtures for the deployment tests: the built zip unpacked, and a clean virtual
environment with exsync installed from a copy of the tracked files (as a user's clone has them).

Each is built once per test session; both install only from the configured package index."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import package  # noqa: E402  (scripts/package.py)

from tests.infra.conftest import infra_check, parsed  # noqa: E402, F401  (the parsed Bicep)


def run(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def package_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make package``'s zip, built from the working tree into a temporary folder."""
    return package.build(tmp_path_factory.mktemp("package") / "exsync.zip")


@pytest.fixture(scope="session")
def unpacked(package_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wwwroot")
    with zipfile.ZipFile(package_zip) as archive:
        archive.extractall(target)
    return target


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtual environment with nothing installed (not even pip)."""
    venv = tmp_path_factory.mktemp("bare-venv")
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    return venv / "bin" / "python"


def tracked_copy(target: Path) -> Path:
    """The files git tracks (or would: not ignored), copied to ``target`` (a fresh clone without caches or venvs)."""
    names = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            dst = target / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    return target


@pytest.fixture(scope="session")
def cli_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment where ``pip install <clone>`` installed exsync; returns its bin/."""
    clone = tracked_copy(tmp_path_factory.mktemp("clone"))
    venv = tmp_path_factory.mktemp("cli-venv")
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", clone)
    return venv / "bin"
