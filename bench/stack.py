"""The local stack a benchmark (or a request-count test) runs on, and its request meters.

- Azurite for Table Storage; every request the Azure SDK sends goes through :class:`TableMeter`,
  an aiohttp transport that counts it by table (and can add a per-request latency, since Azurite
  answers in-process and a storage account does not);
- the Graph simulator with its throttle model (budget per app and mailbox, time-scaled) and an
  injected per-request latency; its request journal counts Graph requests (each ``$batch`` part
  is one request, as Graph's throttling counts it) and HTTP round trips;
- the Acumatica simulator with the licence's request limits and latency; its journal counts ERP
  requests.

:class:`Bench` wires the production worker (:func:`shared.admin.worker.process`) to the stack with
the Graph gateway paced to the simulator's budget and the production ERP session pool, so a
measured cycle is the real one: lease, status, engine, ERP session. :meth:`Meter.mark` /
:meth:`Meter.since` give the counts of a span.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import re
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from azure.core.pipeline.transport import AioHttpTransport
from azure.data.tables.aio import TableServiceClient
from kiota_http.middleware.options import RetryHandlerOption

from bench.busy import BusyClock, TimedTransport
from devhost.services import Azurite, Simulator, start_azurite, start_simulator
from shared.admin.queue import MemorySyncQueue, SyncRequest
from shared.admin.worker import process
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import RunSummary
from shared.graph.client import DEFAULT_TIMEOUT
from shared.graph.gateway import GraphMailboxGateway
from shared.graph.pacing import PacingPolicy
from shared.ports import MailboxGateway
from shared.runtime import ErpSessionPool, Runtime, acumatica_sessions, erp_gateway_factory
from shared.settings import Settings
from shared.state.table import TableStateStore

ERP_LOGIN = ("admin", "setup", "Company")
SEED_TOKEN = "Bearer bench-user"   # a user acting in Outlook: its own throttling budget


@dataclasses.dataclass(frozen=True)
class Profile:
    """The stack's knobs: latencies, Graph's time-scaled throttle model, the ERP licence."""

    graph_latency_ms: int = 20
    erp_latency_ms: int = 20
    table_latency_ms: int = 5
    graph_time_scale: float = 200.0     # Graph's 10-minute window shrunk to 3 s
    graph_rate_limit: int = 1000        # requests per (scaled) window per app and mailbox
    erp_requests_per_minute: int = 6000
    erp_concurrent_requests: int = 10
    graph_concurrency: int = 4          # Graph's concurrent requests per app and mailbox (simulator and pacer)
    export_time_scale: float = 20.0
    """The export row's time scale: at 200-fold, Graph's 10-minute window is 3 s and its throttle floor
    (6 s for 2,000 items) falls below the floor its concurrency sets at the injected latency (12 s), the
    reverse of Graph at its real rates (120 s against 12 s); 20-fold keeps the throttle the floor."""

    def scaled(self, time_scale: float) -> Profile:
        """This profile with Graph's window shrunk ``time_scale``-fold instead."""
        return dataclasses.replace(self, graph_time_scale=time_scale)

    @property
    def graph_window_seconds(self) -> float:
        return 600.0 / self.graph_time_scale

    def graph_seconds_per_request(self) -> float:
        """The throttle floor's cost of one request: the sustained budget of one mailbox."""
        return self.graph_window_seconds / self.graph_rate_limit

    def graph_latency_floor(self, items: int, batch: int = 20) -> float:
        """The least time ``items`` writes in ``$batch``es of ``batch`` take at this latency: a batch
        holds all of the mailbox's concurrent slots (it runs its parts that many at a time), so
        batches go one after another, each its own latency plus one latency per wave of parts."""
        batches = math.ceil(items / batch)
        waves = math.ceil(min(items, batch) / self.graph_concurrency)
        return batches * (1 + waves) * self.graph_latency_ms / 1000


# ---------------------------------------------------------------- Table Storage meter


_TABLE = re.compile(r"^/[^/]+/([^/(?]+)")


class TableMeter(AioHttpTransport):  # type: ignore[misc]
    """The Azure SDK's HTTP transport, counting each request by table (``$batch`` for transactions)."""

    def __init__(self, prefix: str = "", latency_ms: int = 0, clock: BusyClock | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix
        self.latency = latency_ms / 1000
        self.clock = clock or BusyClock()
        self.counts: collections.Counter[str] = collections.Counter()

    async def send(self, request: Any, **config: Any) -> Any:
        match = _TABLE.match(httpx.URL(str(request.url)).path)
        table = match.group(1) if match else "?"
        if table.startswith(self.prefix):
            table = table[len(self.prefix):]
        self.counts[f"{request.method} {table}"] += 1
        with self.clock.request("table"):
            if self.latency:
                await asyncio.sleep(self.latency)
            return await super().send(request, **config)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def metered_store(connection_string: str, prefix: str, latency_ms: int = 0,
                  clock: BusyClock | None = None) -> tuple[TableStateStore, TableMeter]:
    meter = TableMeter(prefix, latency_ms, clock)
    service = TableServiceClient.from_connection_string(connection_string, transport=meter)
    return TableStateStore(service, table_prefix=prefix), meter


# ---------------------------------------------------------------- journals


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:  # loopback simulator only
        return json.loads(response.read())


@dataclasses.dataclass(frozen=True)
class Mark:
    graph: int
    erp: int
    table: collections.Counter[str]


@dataclasses.dataclass(frozen=True)
class Counts:
    """Requests of one span: Graph (batched parts counted one by one), Graph HTTP round trips,
    ERP, Table Storage; ``detail`` breaks each down by method and path / table."""

    graph: int
    graph_http: int
    erp: int
    table: int
    detail: dict[str, dict[str, int]]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _shape(path: str) -> str:
    """A journal path with ids replaced, to group requests by kind."""
    path = re.sub(r"/users/[^/]+", "/users/{mb}", path)
    path = re.sub(r"/(contacts|contactFolders|messages|mailFolders|events|calendars|lists|tasks|"
                  r"masterCategories)/(?!delta$|calendarView)[^/]+", r"/\1/{id}", path)
    return re.sub(r"/entity/Default/[^/]+/(\w+)/[^/]+", r"/entity/\1/{id}", path).replace(
        "/entity/Default/24.200.001", "/entity")


class Meter:
    """Counts of the three services between two points in time."""

    def __init__(self, graph_url: str, erp_url: str, table: TableMeter) -> None:
        self.graph_url, self.erp_url, self.table = graph_url, erp_url, table

    def _journals(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return _get_json(f"{self.graph_url}/_sim/requests"), _get_json(f"{self.erp_url}/_sim/requests")

    def mark(self) -> Mark:
        graph, erp = self._journals()
        return Mark(len(graph), len(erp), collections.Counter(self.table.counts))

    def since(self, mark: Mark) -> Counts:
        graph, erp = self._journals()
        graph, erp = graph[mark.graph:], erp[mark.erp:]
        parts = [e for e in graph if not e["path"].endswith("/$batch")]
        table = collections.Counter(self.table.counts)
        table.subtract(mark.table)
        detail = {
            "graph": dict(collections.Counter(f"{e['method']} {_shape(e['path'])}" for e in parts)),
            "erp": dict(collections.Counter(f"{e['method']} {_shape(e['path'])}" for e in erp)),
            "table": {k: v for k, v in table.items() if v},
        }
        return Counts(graph=len(parts), graph_http=sum(1 for e in graph if not e.get("batched")),
                      erp=len(erp), table=sum(table.values()), detail=detail)

    @contextlib.contextmanager
    def span(self) -> Iterator[list[Counts]]:
        """``with meter.span() as out: ...`` then ``out[0]`` holds the counts."""
        out: list[Counts] = []
        start = self.mark()
        yield out
        out.append(self.since(start))


# ---------------------------------------------------------------- the stack


@dataclasses.dataclass
class Stack:
    """Azurite and the two simulators, started for a benchmark run (stopped by :meth:`stop`)."""

    profile: Profile
    azurite: Azurite
    graph: Simulator
    erp: Simulator

    @classmethod
    def start(cls, profile: Profile, users: tuple[str, ...]) -> Stack:
        azurite = start_azurite()
        graph = erp = None
        try:
            graph = start_simulator("sim.graph", [
                "--users", ",".join(users), "--latency-ms", str(profile.graph_latency_ms),
                "--time-scale", str(profile.graph_time_scale), "--rate-limit", str(profile.graph_rate_limit),
                "--concurrency", str(profile.graph_concurrency)],
                timeout=120)
            erp = start_simulator("sim.acumatica", [
                "--latency-ms", str(profile.erp_latency_ms), "--api-users", "4",
                "--requests-per-minute", str(profile.erp_requests_per_minute),
                "--concurrent-requests", str(profile.erp_concurrent_requests)], timeout=120)
        except BaseException:
            for started in (graph, erp):
                if started is not None:
                    started.stop()
            azurite.stop()
            raise
        return cls(profile, azurite, graph, erp)

    def pids(self) -> dict[str, int]:
        """The stack's processes by name, for :class:`bench.cpu.CpuMeter`."""
        named = {"graph_sim": self.graph.process.proc.pid, "erp_sim": self.erp.process.proc.pid}
        for proc in self.azurite.processes:
            named[proc.name.replace("-", "_")] = proc.proc.pid
        return named

    def stop(self) -> None:
        self.graph.stop()
        self.erp.stop()
        self.azurite.stop()


@dataclasses.dataclass
class Bench:
    """The worker on the stack: one state store (own table prefix), the Graph gateway paced to the
    simulator's budget, the Acumatica gateway per run over the production session pool (sessions
reused across runs, logged out at :meth:`aclose`)."""

    graph_url: str
    erp_url: str
    store: TableStateStore
    meter: Meter
    rt: Runtime
    gateway: GraphMailboxGateway
    profile: Profile
    sessions: ErpSessionPool
    busy: BusyClock

    @classmethod
    async def open(cls, graph_url: str, erp_url: str, connection_string: str, profile: Profile) -> Bench:
        prefix = f"b{uuid.uuid4().hex[:10]}"
        busy = BusyClock()
        store, table = metered_store(connection_string, prefix, profile.table_latency_ms, busy)
        await store.create_tables()
        settings = Settings.from_env({
            "EXSYNC_STATE_CONNECTION": connection_string, "EXSYNC_TABLE_PREFIX": prefix,
            "EXSYNC_ERP_URL": erp_url, "EXSYNC_ERP_USERNAME": ERP_LOGIN[0], "EXSYNC_ERP_PASSWORD": ERP_LOGIN[1],
            "EXSYNC_ERP_TENANT": ERP_LOGIN[2], "EXSYNC_ERP_MAX_SESSIONS": "2"})
        pacing = PacingPolicy(requests=profile.graph_rate_limit, window_seconds=profile.graph_window_seconds,
                              concurrency=profile.graph_concurrency)
        graph_client = httpx.AsyncClient(transport=TimedTransport(busy, "graph"),
                                         timeout=httpx.Timeout(DEFAULT_TIMEOUT, connect=30.0))
        gateway = GraphMailboxGateway.create(None, f"{graph_url}/v1.0", pacing=pacing, http_client=graph_client,
                                             retry=RetryHandlerOption(delay=0, max_retries=5))

        async def mailbox_gateway(_: ServerConfig) -> MailboxGateway:
            return gateway

        sessions = acumatica_sessions(settings)
        rt = Runtime(settings=settings, state=store, queue=MemorySyncQueue(), mailbox_gateway=mailbox_gateway,
                     erp_gateway=erp_gateway_factory(settings, sessions))
        return cls(graph_url, erp_url, store, Meter(graph_url, erp_url, table), rt, gateway, profile, sessions, busy)

    async def aclose(self) -> None:
        await self.sessions.aclose()
        await self.gateway.aclose()
        await self.store.delete_tables()
        await self.store.aclose()

    async def configure(self, server: ServerConfig, policy: SyncPolicy, mailboxes: list[Mailbox]) -> None:
        await self.store.put_policy(policy, force=True)
        await self.store.put_server(server.model_copy(update={"graph_base_url": f"{self.graph_url}/v1.0"}),
                                    force=True)
        for mailbox in mailboxes:
            await self.store.put_mailbox(mailbox, force=True)

    async def sync(self, email: str) -> RunSummary:
        return await self.sync_types(email, None)

    async def sync_types(self, email: str, types: tuple[RecordType, ...] | None) -> RunSummary:
        """One worker run of ``email`` (all enabled types when ``types`` is None)."""
        request = SyncRequest(email, f"bench-{uuid.uuid4().hex[:8]}", record_types=types)
        summary = await process(self.rt, request)
        if summary is None:
            raise RuntimeError(f"{email}: the worker ran nothing (mailbox unknown, disabled or busy)")
        return summary


# ---------------------------------------------------------------- acting as users


async def seed_erp(erp_url: str, entity: str, records: list[dict[str, Any]], chunk: int = 500) -> list[Any]:
    """Records stored as an ERP user's PUT would (the simulator's admin seed; not journaled)."""
    out: list[Any] = []
    async with httpx.AsyncClient(base_url=erp_url, timeout=300) as client:
        for i in range(0, len(records), chunk):
            response = await client.post("/_sim/seed", json={entity: records[i:i + chunk]})
            response.raise_for_status()
            out += response.json().get(entity, [])
    return out


async def add_graph_users(graph_url: str, users: list[str]) -> None:
    async with httpx.AsyncClient(base_url=graph_url, timeout=60) as client:
        for upn in users:
            response = await client.post("/_sim/users", json={"userPrincipalName": upn})
            if response.status_code >= 400 and response.status_code != 409:
                response.raise_for_status()


async def graph_user_batch(graph_url: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests an Outlook user makes (own throttling budget), 20 per ``$batch``; their responses."""
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=graph_url, timeout=120,
                                 headers={"Authorization": SEED_TOKEN}) as client:
        for i in range(0, len(requests), 20):
            pending = {str(n): r for n, r in enumerate(requests[i:i + 20])}
            answered: dict[str, dict[str, Any]] = {}
            while pending:
                response = await client.post("/v1.0/$batch", json={
                    "requests": [{**r, "id": key} for key, r in pending.items()]})
                response.raise_for_status()
                for answer in response.json()["responses"]:
                    if answer["status"] != 429:
                        answered[answer["id"]] = answer
                        pending.pop(answer["id"])
                if pending:
                    await asyncio.sleep(0.5)
            out += [answered[key] for key in sorted(answered, key=int)]
    return out
