"""The serve stack (Azurite, both simulators, the local host) for end-to-end tests, and clients that
talk to it only through HTTP: the admin API, Graph v1.0 and Acumatica's contract-based REST API."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from devhost.serve import Stack, running_stack
from devhost.services import free_port

ENDPOINT = "/entity/Default/24.200.001"


@dataclasses.dataclass
class Clients:
    stack: Stack
    api: httpx.AsyncClient     # admin API with the function key
    graph: httpx.AsyncClient   # Graph v1.0 of the simulator (any bearer token)
    erp: httpx.AsyncClient     # Acumatica REST, logged in

    async def run_timer(self, name: str) -> None:
        resp = await self.api.post(f"{self.stack.host.base_url}/admin/functions/{name}", json={})
        assert resp.status_code == 202, resp.text

    async def erp_put(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        resp = await self.erp.put(f"{ENDPOINT}/{entity}", json=record)
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    async def pushes_delivered(self) -> None:
        """Every push the ERP simulator has sent so far reached the app (it delivers them in the
        background, so a push of a record made before a mailbox existed may otherwise arrive after)."""
        async def delivered() -> bool:
            state = (await self.erp.get("/_sim/push")).json()
            return all(d["delivered"] for d in state["deliveries"])

        await wait_for(delivered, limit=30, what="the ERP simulator's pushes to be delivered")

    async def erp_list(self, entity: str, **params: str) -> list[dict[str, Any]]:
        resp = await self.erp.get(f"{ENDPOINT}/{entity}", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    async def graph_list(self, path: str) -> list[dict[str, Any]]:
        resp = await self.graph.get(f"/v1.0/{path}")
        assert resp.status_code == 200, resp.text
        return resp.json()["value"]  # type: ignore[no-any-return]


async def wait_for(check: Callable[[], Awaitable[bool]], limit: float = 60.0, what: str = "condition") -> None:
    """Poll ``check`` until True (the stack works asynchronously through its queue)."""
    deadline = asyncio.get_running_loop().time() + limit
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def settled(c: Clients, email: str, since: str) -> bool:
    """The mailbox is idle (nothing queued, running or pending) after a run started at/after ``since``."""
    status = (await c.api.get(f"/mailboxes/{email}/status")).json()
    run = status["last_run"] or {}
    return (run.get("state") not in (None, "queued", "running") and status["pending"] is None
            and run.get("started_at", "") >= since)


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(), key="e2e-key",
                             timers=False) as stack:
        api = httpx.AsyncClient(base_url=stack.api, headers={"x-functions-key": stack.key}, timeout=30)
        graph = httpx.AsyncClient(base_url=stack.graph.base_url, timeout=30,
                                  headers={"Authorization": "Bearer e2e", "Prefer": 'IdType="ImmutableId"'})
        erp = httpx.AsyncClient(base_url=stack.erp.base_url, timeout=30)
        login = await erp.post("/entity/auth/login", json={"name": "admin", "password": "setup",
                                                           "tenant": "Company"})
        assert login.status_code == 204, login.text
        try:
            yield Clients(stack, api, graph, erp)
        finally:
            await erp.post("/entity/auth/logout")
            for client in (api, graph, erp):
                await client.aclose()
