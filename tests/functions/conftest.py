"""Fixtures for the function tests: a Runtime on Azurite (tables + queue) with in-memory gateways,
and helpers that call the registered user functions with real ``azure.functions`` objects."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue.aio import QueueClient

import function_app
from devhost.host import functions_of
from functions._runtime import use_runtime
from shared.admin.queue import SyncRequest
from shared.admin.storage_queue import StorageSyncQueue
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.status import Counts, RunState, RunSummary
from shared.erp.memory import InMemoryErpGateway
from shared.graph.memory import InMemoryMailboxGateway
from shared.ports import SyncJob, SyncOutcome
from shared.runtime import Runtime
from shared.settings import Settings
from shared.state.table import TableStateStore

CLIENT_STATE = "client-state-for-tests"
ERP_SECRET = "erp-secret-for-tests"

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    fn.get_function_name(): fn.get_user_function() for fn in functions_of(function_app.app)
}


def user_function(name: str) -> Callable[..., Any]:
    return _FUNCTIONS[name]


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 20, 8, 0, 3, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


@dataclasses.dataclass
class FakeEngine:
    """Stands in for shared.sync.run.sync_mailbox where a test checks the worker's own rules."""

    calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fail: BaseException | None = None
    state: RunState = RunState.SUCCEEDED
    hook: Callable[[dict[str, Any]], Any] | None = None

    async def __call__(self, job: SyncJob) -> SyncOutcome:
        kwargs = {field.name: getattr(job, field.name) for field in dataclasses.fields(job)}
        self.calls.append(kwargs)
        if self.hook is not None:
            await self.hook(kwargs)
        if self.fail is not None:
            raise self.fail
        for record_type in job.removals.ids:  # like the engine: each synced type's cursor saved
            if job.type_saved is not None and (job.record_types is None or record_type in job.record_types):
                await job.type_saved(record_type)
        now = job.clock.now()
        return SyncOutcome(RunSummary(job.run_id, self.state, now, now,
                                      {"contact.mailbox": Counts(created=2), "contact.erp": Counts(updated=1)},
                                      "done" if self.state is RunState.SUCCEEDED else "2 items failed"))


@dataclasses.dataclass
class Env:
    rt: Runtime
    store: TableStateStore
    queue_client: QueueClient
    graph: InMemoryMailboxGateway
    erp: InMemoryErpGateway
    engine: FakeEngine
    clock: Clock

    async def messages(self) -> list[SyncRequest]:
        """Receive (and delete) every visible message, checking they are base64 like the trigger expects."""
        out = []
        async for msg in self.queue_client.receive_messages(max_messages=32):
            raw = msg.content
            assert not raw.lstrip().startswith("{"), "queue messages must be base64-encoded"
            out.append(SyncRequest.decode(raw))
            await self.queue_client.delete_message(msg)
        return out

    async def seed(self, *emails: str, server: ServerConfig | None = None,
                   policy: SyncPolicy | None = None) -> ServerConfig:
        server = server or ServerConfig(name="main")
        if policy is not None:
            await self.store.put_policy(policy, force=True)
        await self.store.put_server(server, force=True)
        for i, email in enumerate(emails):
            await self.store.put_mailbox(Mailbox(email=email, server=server.name, employee_id=f"EP{i:04d}",
                                                 policy=policy.name if policy else None), force=True)
        return server


@dataclasses.dataclass
class TwinRuntime:
    """A Runtime on Azurite (tables and queue created) over the gateway twins and a FakeEngine, in use."""

    rt: Runtime
    store: TableStateStore
    queue: StorageSyncQueue
    graph: InMemoryMailboxGateway
    erp: InMemoryErpGateway
    engine: FakeEngine

    async def close(self) -> None:
        """Out of use; its queue and tables deleted."""
        use_runtime(None)
        await self.queue.client.delete_queue()
        await self.queue.aclose()
        await self.store.delete_tables()
        await self.store.aclose()


async def twin_runtime(conn: str, env: dict[str, str], clock: Clock | None = None) -> TwinRuntime:
    """The Runtime for ``env`` (its queue name and table prefix) on Azurite at ``conn``, put in use."""
    settings = Settings.from_env({"EXSYNC_STATE_CONNECTION": conn, **env})
    store = TableStateStore.from_connection_string(conn, table_prefix=settings.table_prefix, clock=clock)
    await store.create_tables()
    queue = StorageSyncQueue.from_connection_string(conn, settings.sync_queue)
    await queue.ensure()
    graph, erp, engine = InMemoryMailboxGateway(), InMemoryErpGateway(), FakeEngine()

    async def graph_for(server: ServerConfig) -> InMemoryMailboxGateway:
        return graph

    async def erp_for() -> InMemoryErpGateway:
        return erp

    extra = {"clock": clock} if clock is not None else {}
    rt = Runtime(settings=settings, state=store, queue=queue, mailbox_gateway=graph_for,  # type: ignore[arg-type]
                 erp_gateway=erp_for, engine=engine, **extra)  # type: ignore[arg-type]
    use_runtime(rt)
    return TwinRuntime(rt, store, queue, graph, erp, engine)


@pytest.fixture
async def env(azurite_connection_string: str) -> AsyncIterator[Env]:
    suffix = uuid.uuid4().hex[:10]
    clock = Clock()
    twins = await twin_runtime(azurite_connection_string, {
        "EXSYNC_SYNC_QUEUE": f"sync-{suffix}", "EXSYNC_GRAPH_CLIENT_STATE": CLIENT_STATE,
        "EXSYNC_ERP_WEBHOOK_SECRET": ERP_SECRET, "EXSYNC_TABLE_PREFIX": f"t{suffix}",
        "EXSYNC_BATCH_STAGGER_SECONDS": "0"}, clock)
    raw = QueueClient.from_connection_string(azurite_connection_string, twins.rt.settings.sync_queue)
    try:
        yield Env(twins.rt, twins.store, raw, twins.graph, twins.erp, twins.engine, clock)
    finally:
        await raw.close()
        await twins.close()


async def call_http(name: str, method: str, path: str, body: Any = None, *,
                    route: dict[str, str] | None = None, params: dict[str, str] | None = None,
                    headers: dict[str, str] | None = None) -> tuple[int, Any, func.HttpResponse]:
    """Call an HTTP user function with a real func.HttpRequest; returns status, parsed body, response."""
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    url = f"http://localhost/api/{path}" + (f"?{urlencode(params)}" if params else "")
    req = func.HttpRequest(method, url, headers={"content-type": "application/json", **(headers or {})},
                           params=params or {}, route_params=route or {}, body=raw)
    resp = await user_function(name)(req)
    data = resp.get_body()
    parsed = json.loads(data) if data and resp.mimetype == "application/json" else data.decode()
    return resp.status_code, parsed, resp


def queue_message(request: SyncRequest | bytes, *, dequeue_count: int = 1) -> QueueMessage:
    """The QueueMessage the Python worker builds (body already base64-decoded by the host)."""
    body = request if isinstance(request, bytes) else base64.b64decode(request.encode())
    return QueueMessage(id=uuid.uuid4().hex, body=body, dequeue_count=dequeue_count)


def timer(past_due: bool = False) -> TimerRequest:
    """The TimerRequest the Python worker builds for a timer trigger."""
    return TimerRequest(past_due=past_due, schedule_status={}, schedule={"AdjustForDST": True})


def field_errors(body: dict[str, Any]) -> dict[str, str]:
    """The ``fields`` list of the one error shape as ``{field: message}``."""
    return {entry["field"]: entry["message"] for entry in body["fields"]}
