"""Copy the add-in's browser libraries from ``node_modules`` into ``addin/vendor`` (no bundler).

- ``addin/vendor/msal-browser.min.js``: MSAL.js's browser build (``@azure/msal-browser``), a UMD file
  defining the global ``msal``; committed, served by the Function App with the pane.
- ``addin/vendor/office/``: Office.js (``@microsoft/office-js``): the loader, the Outlook host files,
  telemetry and en-us strings; not committed (7 MB). Only the development manifest
  (``make addin OFFICE=local``) uses it; production loads Office.js from Microsoft's CDN.

Run from the repository root: ``python scripts/vendor_addin.py [--check]``; ``--check`` fails when the
committed MSAL copy differs from the installed package (``make test`` runs it through pytest).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
VENDOR = ROOT / "addin" / "vendor"
MSAL = NODE / "@azure" / "msal-browser" / "lib" / "msal-browser.min.js"
OFFICE = NODE / "@microsoft" / "office-js" / "dist"
OFFICE_FILES = ("office.js", "es6-promise.js")
OFFICE_GLOBS = ("outlook*.js",)
OFFICE_DIRS = ("en-us", "telemetry", "ariatelemetry")


def version(package: str) -> str:
    data = json.loads((NODE / package / "package.json").read_text(encoding="utf-8"))
    return str(data["version"])


def vendor_msal() -> Path:
    target = VENDOR / "msal-browser.min.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MSAL, target)
    return target


def vendor_office() -> Path:
    target = VENDOR / "office"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in OFFICE_FILES:
        shutil.copyfile(OFFICE / name, target / name)
    for pattern in OFFICE_GLOBS:
        for path in OFFICE.glob(pattern):
            if not path.name.endswith(".debug.js") and "vsdoc" not in path.name:
                shutil.copyfile(path, target / path.name)
    for name in OFFICE_DIRS:
        shutil.copytree(OFFICE / name, target / name,
                        ignore=shutil.ignore_patterns("*.debug.js"))
    return target


def check() -> list[str]:
    """Problems with the committed vendored files (empty: in sync with node_modules)."""
    target = VENDOR / "msal-browser.min.js"
    if not MSAL.is_file():
        return [f"{MSAL.relative_to(ROOT)} is missing: run 'make bootstrap'"]
    if not target.is_file() or not filecmp.cmp(MSAL, target, shallow=False):
        return [f"{target.relative_to(ROOT)} differs from @azure/msal-browser "
                f"{version('@azure/msal-browser')}: run 'python scripts/vendor_addin.py'"]
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the committed MSAL copy")
    parser.add_argument("--no-office", action="store_true", help="skip the local Office.js copy")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print(f"wrote {vendor_msal().relative_to(ROOT)} (msal-browser {version('@azure/msal-browser')})")
    if not args.no_office:
        print(f"wrote {vendor_office().relative_to(ROOT)}/ (office-js {version('@microsoft/office-js')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
