"""The committed htmx is exactly the pinned npm package's file (``scripts/vendor_htmx.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_vendored_htmx_matches_the_pinned_package() -> None:
    spec = importlib.util.spec_from_file_location("vendor_htmx", ROOT / "scripts" / "vendor_htmx.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run python scripts/vendor_htmx.py"
    assert module.TARGET.read_text().startswith(f"/* htmx.org {module.PINNED} ")
