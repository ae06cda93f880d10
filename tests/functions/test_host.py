"""The local host over the real app: function-key auth, routing, admin run endpoint, and the queue
poller's retry/poison behaviour against Azurite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

import function_app
from devhost.host import LocalHost, QueueOptions, route_regex
from devhost.services import free_port
from shared.admin.queue import SyncRequest
from shared.domain.status import RunState
from shared.errors import Throttled
from tests.functions.conftest import Env


def test_route_templates() -> None:
    assert route_regex("policies/{name}").match("policies/sales").groupdict() == {"name": "sales"}
    assert route_regex("policies/{name}").match("policies/a/b") is None
    assert route_regex("mailboxes/{email}/status").match("mailboxes/ann@x.com/status")
    assert route_regex("files/{*rest}").match("files/a/b").groupdict() == {"rest": "a/b"}
    assert route_regex("items/{id?}").match("items") and route_regex("items/{id?}").match("items/7")


@pytest.fixture
async def host(env: Env, azurite_connection_string: str) -> AsyncIterator[LocalHost]:
    settings_env = {"EXSYNC_SYNC_QUEUE": env.rt.settings.sync_queue, "EXSYNC_SCHEDULE": env.rt.settings.schedule}
    local = LocalHost(function_app.app, function_key="secret-key", storage_connection=azurite_connection_string,
                      env=settings_env, port=free_port(), timers=False,
                      queue_options=QueueOptions(max_dequeue_count=2, visibility_timeout=1,
                                                 max_polling_interval=0.2, batch_size=2))
    await local.start()
    try:
        yield local
    finally:
        await local.stop()


async def test_function_key_is_required_like_azure(host: LocalHost, env: Env) -> None:
    async with httpx.AsyncClient(base_url=host.base_url) as client:
        assert (await client.get("/api/policies")).status_code == 401
        assert (await client.get("/api/policies", headers={"x-functions-key": "wrong"})).status_code == 401
        assert (await client.get("/api/policies", headers={"x-functions-key": "secret-key"})).status_code == 200
        assert (await client.get("/api/policies", params={"code": "secret-key"})).status_code == 200
        r = await client.post("/api/graph/notifications", params={"validationToken": "tok"})  # anonymous
        assert r.status_code == 200 and r.text == "tok" and r.headers["content-type"].startswith("text/plain")
        assert (await client.get("/api/nothing-here", params={"code": "secret-key"})).status_code == 404
        assert (await client.delete("/api/sync", params={"code": "secret-key"})).status_code == 405
        assert (await client.post("/admin/functions/housekeeping")).status_code == 401
        r = await client.post("/admin/functions/housekeeping", headers={"x-functions-key": "secret-key"}, json={})
        assert r.status_code == 202 and host.invocations["housekeeping"] == 1


async def test_queue_poller_runs_worker_then_retries_and_poisons(host: LocalHost, env: Env) -> None:
    await env.seed("ann@contoso.com", "bob@contoso.com")
    await env.rt.queue.send(SyncRequest("ann@contoso.com", "run-ok"))

    async def status(email: str) -> RunState | None:
        stored = await env.store.get_status(email)
        return stored.value.last_run.state if stored and stored.value.last_run else None

    async with asyncio.timeout(30):
        while True:  # the poller works in the background: poll the stored status
            if await status("ann@contoso.com") is RunState.SUCCEEDED:
                break
            await asyncio.sleep(0.1)
    assert env.engine.calls[0]["run_id"] == "run-ok"

    env.engine.fail = Throttled("slow down")  # propagates: the host retries, then moves it to poison
    await env.rt.queue.send(SyncRequest("bob@contoso.com", "run-poison"))
    async with asyncio.timeout(60):
        while True:
            stored = await env.store.get_status("bob@contoso.com")
            if stored and stored.value.warning and "repeatedly" in stored.value.warning:
                break
            await asyncio.sleep(0.2)
    assert [c["run_id"] for c in env.engine.calls].count("run-poison") == 2  # max_dequeue_count
    assert host.invocations["sync_poison"] >= 1
