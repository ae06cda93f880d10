"""Copy htmx from its npm package into the console's static folder (no build step, no Node at run time).

Run from the repository root after ``make bootstrap`` (``npm ci`` installs ``node_modules``)::

    python scripts/vendor_htmx.py [--check]

The version is pinned twice and both must agree: ``package.json`` (``htmx.org``) and
:data:`PINNED` below. The file written is ``shared/console/static/htmx.min.js`` with a one-line
header naming the version; ``--check`` fails when the committed copy differs from the package.

Why htmx 4 and not 2.x: 4.x swaps 4xx responses by default (a 400 re-renders the form with its
errors next to the fields, without extra configuration), injects its indicator CSS through a
constructable stylesheet instead of an inline ``<style>`` (a strict ``style-src 'self'`` holds), and
is the npm ``latest`` the team installs. The console uses only attributes common to both lines
(``hx-get``, ``hx-post``, ``hx-target``, ``hx-swap``, ``hx-trigger``), never ``hx-on`` or ``js:``
values, so ``script-src 'self'`` without ``unsafe-eval`` holds too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINNED = "4.0.1"
PACKAGE = ROOT / "node_modules" / "htmx.org"
SOURCE = PACKAGE / "dist" / "htmx.min.js"
TARGET = ROOT / "shared" / "console" / "static" / "htmx.min.js"


def vendored_text() -> str:
    """The file as it should be committed, or SystemExit naming what is wrong."""
    declared = json.loads((ROOT / "package.json").read_text())["devDependencies"].get("htmx.org")
    if declared != PINNED:
        raise SystemExit(f"package.json pins htmx.org {declared}, this script {PINNED}; make them equal")
    if not SOURCE.exists():
        raise SystemExit(f"{SOURCE} is missing: run 'make bootstrap' (npm ci) first")
    installed = json.loads((PACKAGE / "package.json").read_text())["version"]
    if installed != PINNED:
        raise SystemExit(f"node_modules has htmx.org {installed}, pinned {PINNED}: run 'npm ci'")
    body = SOURCE.read_text(encoding="utf-8")
    body = body.split("\n//# sourceMappingURL=")[0].rstrip("\n")
    return f"/* htmx.org {PINNED} (BSD-2-Clause), vendored by scripts/vendor_htmx.py */\n{body}\n"


def main(argv: list[str]) -> int:
    text = vendored_text()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python scripts/vendor_htmx.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)} (htmx {PINNED}, {len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
