"""The real local stack (Azurite, both simulators, the local Functions host) for the console's
browser tests, run on its own event loop in a thread so the sync Playwright API can drive it.

:class:`ConsoleStack` also carries an httpx client for the admin API (function key), used to set up
data and to check every browser flow through the API's own data afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from devhost.serve import Stack, running_stack
from devhost.services import free_port
from tests.addin.issuer import CLIENT_ID, TokenIssuer

ROOT = Path(__file__).resolve().parents[2]
KEY = "browser-key"
ANN, BOB = "ann@contoso.test", "bob@contoso.test"   # ann exists in the Graph simulator, bob does not


class ConsoleStack:
    """The stack with the development sign-in, or with ``issuer``: the console's production Entra
    sign-in against that local token issuer (started and stopped with the stack)."""

    def __init__(self, issuer: TokenIssuer | None = None) -> None:
        self.issuer = issuer
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.stack: Stack | None = None
        self._thread = threading.Thread(target=self._run, name="console-stack", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        env: dict[str, str] = {}
        if self.issuer is not None:
            await self.issuer.start()
            env = {"EXSYNC_TENANT_ID": self.issuer.tenant, "EXSYNC_CONSOLE_CLIENT_ID": CLIENT_ID,
                   "EXSYNC_CONSOLE_AUTHORITY": self.issuer.authority}
        try:
            async with running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(), key=KEY,
                                     timers=False, graph_users=ANN, extra_env=env,
                                     dev_console=self.issuer is None) as stack:
                self.stack = stack
                self._ready.set()
                await self._stop.wait()
        finally:
            if self.issuer is not None:
                await self.issuer.stop()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(120) or self._error is not None:
            raise RuntimeError(f"the local stack did not start: {self._error!r}")

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    @property
    def console(self) -> str:
        assert self.stack is not None
        return f"{self.stack.host.base_url}/console"

    @property
    def graph_url(self) -> str:
        assert self.stack is not None
        return f"{self.stack.graph.base_url}/v1.0"

    def api(self) -> httpx.Client:
        assert self.stack is not None
        return httpx.Client(base_url=self.stack.api, headers={"x-functions-key": KEY}, timeout=30)

    def graph_get(self, path: str) -> list[dict[str, Any]]:
        """A Graph v1.0 list read from the simulator (any bearer token)."""
        with httpx.Client(base_url=self.graph_url, headers={"Authorization": "Bearer browser"}, timeout=30) as graph:
            response = graph.get(f"/{path}")
            response.raise_for_status()
            return list(response.json()["value"])

    def seed_erp(self, body: dict[str, Any]) -> None:
        assert self.stack is not None
        with httpx.Client(base_url=self.stack.erp.base_url, timeout=30) as erp:
            erp.post("/_sim/seed", json=body).raise_for_status()


@contextlib.contextmanager
def console_stack(issuer: TokenIssuer | None = None) -> Iterator[ConsoleStack]:
    stack = ConsoleStack(issuer)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def screenshot_dir() -> Path | None:
    """Where ``make screenshots`` wants the PNGs (``EXSYNC_SCREENSHOTS``), or None in a normal run."""
    value = os.environ.get("EXSYNC_SCREENSHOTS")
    return (ROOT / value) if value else None
