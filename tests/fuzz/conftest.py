"""A live local host for the fuzz suites: the app's functions served over HTTP on a free loopback port,
state and queue on Azurite, in-memory gateways, no queue workers (what a request queues stays on the
queue, to be counted).

The host runs on its own event loop in a thread so synchronous clients (schemathesis, httpx) drive it
like any HTTP client would. One host per test module; its tables and queue are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

import function_app
from devhost.host import LocalHost
from devhost.services import free_port
from shared.admin.storage_queue import StorageSyncQueue
from shared.runtime import Runtime
from shared.state.table import TableStateStore
from tests.functions.conftest import CLIENT_STATE, ERP_SECRET, FakeEngine, TwinRuntime, twin_runtime

KEY = "fuzz-function-key"


@dataclasses.dataclass
class LiveHost:
    """The running host; ``run`` executes a coroutine on the host's loop (e.g. to read its state)."""

    base_url: str
    key: str
    twins: TwinRuntime
    loop: asyncio.AbstractEventLoop

    @property
    def rt(self) -> Runtime:
        return self.twins.rt

    @property
    def store(self) -> TableStateStore:
        return self.twins.store

    @property
    def queue(self) -> StorageSyncQueue:
        return self.twins.queue

    @property
    def engine(self) -> FakeEngine:
        return self.twins.engine

    @property
    def api(self) -> str:
        return f"{self.base_url}/api"

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def queued(self) -> int:
        """How many sync requests the host queued so far (nothing consumes the queue)."""
        async def count() -> int:
            props = await self.queue.client.get_queue_properties()
            return int(props.approximate_message_count or 0)
        return int(self.run(count()))


async def _start(conn: str, loop: asyncio.AbstractEventLoop) -> tuple[LiveHost, LocalHost]:
    suffix = uuid.uuid4().hex[:10]
    env = {"EXSYNC_STATE_CONNECTION": conn, "AzureWebJobsStorage": conn, "EXSYNC_SYNC_QUEUE": f"fuzz-{suffix}",
           "EXSYNC_GRAPH_CLIENT_STATE": CLIENT_STATE, "EXSYNC_ERP_WEBHOOK_SECRET": ERP_SECRET,
           "EXSYNC_TABLE_PREFIX": f"f{suffix}", "EXSYNC_BATCH_STAGGER_SECONDS": "0", "EXSYNC_SCHEDULE": "0 */5 * * * *",
           "EXSYNC_TENANT_ID": "contoso.test", "EXSYNC_ADDIN_CLIENT_ID": "fuzz-addin"}
    twins = await twin_runtime(conn, env)
    host = LocalHost(function_app.app, function_key=KEY, storage_connection=conn, env=env, port=free_port(),
                     timers=False)
    host.queues.clear()  # no worker: queued requests stay countable
    await host.start()
    return LiveHost(host.base_url, KEY, twins, loop), host


async def _stop(live: LiveHost, host: LocalHost) -> None:
    await host.stop()
    await live.twins.close()


@pytest.fixture(scope="module")
def live_host(azurite_connection_string: str) -> Iterator[LiveHost]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-host", daemon=True)
    thread.start()
    live, host = asyncio.run_coroutine_threadsafe(_start(azurite_connection_string, loop), loop).result(60)
    try:
        yield live
    finally:
        asyncio.run_coroutine_threadsafe(_stop(live, host), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
