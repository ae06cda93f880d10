#!/usr/bin/env python3
"""Build the Flex Consumption deployment zip: the app's files plus its dependencies, ready to run.

    python scripts/package.py [--out dist/exsync.zip]

The zip holds the project files that ``.funcignore`` does not exclude (``function_app.py``,
``host.json``, ``functions/``, ``shared/``, ``requirements.txt``) and ``requirements.txt``
installed into ``.python_packages/lib/site-packages`` (the folder the Python worker puts on
``sys.path``) as Linux x86-64 CPython 3.11 wheels, whatever the build machine is. The package is
deployed with remote build off (``--build-remote false``): what was tested is what runs, and a
deployment does not depend on PyPI being reachable from Azure. See ``docs/deploy.md``.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE_PACKAGES = ".python_packages/lib/site-packages"
PYTHON_VERSION = "3.11"
# pip's --platform takes exact tags: list the manylinux levels the Linux workers accept.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux_2_5_x86_64", "manylinux1_x86_64")
ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", "*.egg-info", ".DS_Store")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # reproducible zips: entry times do not depend on the checkout


def ignore_patterns(root: Path = ROOT) -> list[str]:
    """The patterns of ``.funcignore`` (gitignore-like: one per line, ``#`` comments)."""
    path = root / ".funcignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def excluded(relative: str, patterns: list[str]) -> bool:
    """True when ``relative`` (posix path) or one of its parent folders matches a pattern."""
    parts = relative.split("/")
    for pattern in (*patterns, *ALWAYS_EXCLUDED):
        anchored = pattern.lstrip("/")
        if "/" in anchored:
            if fnmatch.fnmatch(relative, anchored) or relative.startswith(anchored + "/"):
                return True
        elif any(fnmatch.fnmatch(part, anchored) for part in parts):
            return True
    return False


def app_files(root: Path = ROOT, patterns: list[str] | None = None) -> Iterator[Path]:
    """The project files that belong in the package, sorted."""
    patterns = ignore_patterns(root) if patterns is None else patterns
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirnames[:] = sorted(d for d in dirnames if not excluded(prefix + d, patterns))
        for name in sorted(filenames):
            if not excluded(prefix + name, patterns):
                yield Path(dirpath) / name


def install_dependencies(target: Path, requirements: Path) -> None:
    """``pip install --target`` of Linux CPython 3.11 wheels only (no sdists, no compiled .pyc)."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-compile", "--target", str(target), "--requirement", str(requirements),
           "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    subprocess.run(cmd, check=True)


def _add(archive: zipfile.ZipFile, path: Path, name: str) -> None:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
    with path.open("rb") as src, archive.open(info, "w") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)


def build(out: Path, root: Path = ROOT) -> Path:
    """Write the deployment zip to ``out`` and return it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="exsync-package-") as tmp:
        deps = Path(tmp) / "site-packages"
        install_dependencies(deps, root / "requirements.txt")
        partial = out.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", compresslevel=6) as archive:
            for path in app_files(root):
                _add(archive, path, path.relative_to(root).as_posix())
            for dirpath, dirnames, filenames in os.walk(deps):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for name in sorted(filenames):
                    if not name.endswith(".pyc"):
                        path = Path(dirpath) / name
                        _add(archive, path, f"{SITE_PACKAGES}/{path.relative_to(deps).as_posix()}")
        partial.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Flex Consumption deployment zip.")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "exsync.zip",
                        help="where to write the zip (default: dist/exsync.zip)")
    args = parser.parse_args(argv)
    out = build(args.out.resolve())
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
