"""The Graph simulator's state and request pipeline (tenant, router, throttle, faults, journal, hooks).

The aiohttp server around it is :mod:`sim.graph.app`; resources import this module for the type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from sim.common import FaultBook, Journal
from sim.graph import ids, odata
from sim.graph.call import Call, Reply
from sim.graph.errors import GraphError, error_body
from sim.graph.router import Router
from sim.graph.store import Item, Mailbox
from sim.graph.tenant import Tenant
from sim.graph.throttle import Limits, Throttle

log = logging.getLogger(__name__)
ChangeHook = Callable[[Mailbox, Item, str, str | None], None]


class SimState:
    """Simulator state and the request pipeline shared by direct and batched requests.

    Knows no resource: :class:`sim.graph.app.Sim` registers the routes, seeds the applications and
    hooks subscriptions in (so resources can import this module without an import circle).
    """

    def __init__(self, users: list[str], latency_ms: int = 0, time_scale: float = 1.0,
                 limits: Limits | None = None, app_id: str | None = None) -> None:
        self.tenant = Tenant()
        for upn in users:
            self.tenant.add_user(upn)
        self.app_id = app_id
        self.router = Router()
        self.journal = Journal()
        self.faults = FaultBook()
        self.throttle = Throttle(limits, time_scale)
        self.latency = latency_ms / 1000
        self.time_scale = time_scale
        self.change_hooks: list[ChangeHook] = []
        self.background: set[asyncio.Task[Any]] = set()
        self.notifications: list[dict[str, Any]] = []
        self._http: aiohttp.ClientSession | None = None

    def http(self) -> aiohttp.ClientSession:
        """The client session for handshakes and notifications (created on first use)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        for task in list(self.background):
            task.cancel()
        if self._http is not None:
            await self._http.close()

    def changed(self, mailbox: Mailbox, item: Item, change_type: str, container: str | None = None) -> None:
        for hook in self.change_hooks:
            hook(mailbox, item, change_type, container)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def mailbox_of(self, call: Call) -> str | None:
        segments = call.segments
        if len(segments) >= 2 and segments[0].lower() == "users":
            found = self.tenant.find_user(segments[1])
            return found.upn if found else segments[1]
        return None

    async def execute(self, call: Call) -> Reply:
        """Throttle (per app and mailbox), dispatch, map errors to Graph's shape."""
        call.mailbox = self.mailbox_of(call)
        key = (call.app_key, call.mailbox.lower()) if call.mailbox else None
        if key is not None:
            refused = self.throttle.acquire(key)
            if refused is not None:
                retry_after, reason = refused
                return Reply(429, error_body("ApplicationThrottled", reason), {"Retry-After": str(retry_after)})
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            odata.check_options(call.query)
            return await self.router.dispatch(call, self)
        except GraphError as exc:
            return Reply(exc.status, exc.body(), exc.headers)
        except Exception:  # a simulator bug: answer like a Graph 500 and keep serving
            log.exception("unhandled error in %s %s", call.method, call.path)
            return Reply(500, error_body("InternalServerError", "The simulator failed on this request; see "
                                         "its output."))
        finally:
            if key is not None:
                self.throttle.release(key)

    def journal_batch_item(self, entry: dict[str, Any], path: str, query: dict[str, str], status: int | None,
                           mailbox: str | None) -> dict[str, Any]:
        """Journal a batched request; the returned entry may be completed later (status, mailbox)."""
        self.journal.record(method=str(entry.get("method", "")).upper(), path=path, query=query,
                            body=entry.get("body"), status=status, mailbox=mailbox, batched=True)
        return self.journal.entries[-1]

    def reset(self) -> None:
        for task in list(self.background):
            task.cancel()
        self.notifications.clear()
        self.tenant.reset()
        ids.MARKS["marks"] = ""
        self.tenant.applications.clear()
        self.tenant.secrets.clear()
        self.journal.clear()
        self.faults.clear()
        self.throttle.reset()
