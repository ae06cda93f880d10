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
from functions._runtime import use_runtime
from shared.admin.storage_queue import StorageSyncQueue
from shared.domain.config import ServerConfig
from shared.erp.memory import InMemoryErpGateway
from shared.graph.memory import InMemoryMailboxGateway
from shared.runtime import Runtime
from shared.settings import Settings
from shared.state.table import TableStateStore
from tests.functions.conftest import CLIENT_STATE, ERP_SECRET, FakeEngine

KEY = "fuzz-function-key"


@dataclasses.dataclass
class LiveHost:
    """The running host; ``run`` executes a coroutine on the host's loop (e.g. to read its state)."""

    base_url: str
    key: str
    rt: Runtime
    store: TableStateStore
    queue: StorageSyncQueue
    engine: FakeEngine
    loop: asyncio.AbstractEventLoop

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
           "EXSYNC_TABLE_PREFIX": f"f{suffix}", "EXSYNC_BATCH_STAGGER_SECONDS": "0", "EXSYNC_SCHEDULE": "0 */5 * * * *"}
    settings = Settings.from_env(env)
    store = TableStateStore.from_connection_string(conn, table_prefix=f"f{suffix}")
    await store.create_tables()
    queue = StorageSyncQueue.from_connection_string(conn, settings.sync_queue)
    await queue.ensure()
    graph, erp, engine = InMemoryMailboxGateway(), InMemoryErpGateway(), FakeEngine()

    async def graph_for(server: ServerConfig) -> InMemoryMailboxGateway:
        return graph

    async def erp_for() -> InMemoryErpGateway:
        return erp

    rt = Runtime(settings=settings, state=store, queue=queue, mailbox_gateway=graph_for,  # type: ignore[arg-type]
                 erp_gateway=erp_for, engine=engine)  # type: ignore[arg-type]
    use_runtime(rt)
    host = LocalHost(function_app.app, function_key=KEY, storage_connection=conn, env=env, port=free_port(),
                     timers=False)
    host.queues.clear()  # no worker: queued requests stay countable
    await host.start()
    return LiveHost(host.base_url, KEY, rt, store, queue, engine, loop), host


async def _stop(live: LiveHost, host: LocalHost) -> None:
    await host.stop()
    use_runtime(None)
    await live.queue.client.delete_queue()
    await live.queue.aclose()
    await live.store.delete_tables()
    await live.store.aclose()


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
