"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser downloads are never used (they cannot be fetched here); the
bootstrap installs Debian's ``chromium`` package. Each test gets a fresh page in a fresh
context; the browser is shared by a module's tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per test module (fails, never skips, when chromium is missing).

    Not for the session: Playwright's sync API keeps its event loop running while it is open, and
    every async test after the browser tests would fail with "another loop is running".
    """
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run 'make bootstrap' (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page at 1280×800 in its own context (no cookies shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    try:
        yield context.new_page()
    finally:
        context.close()
