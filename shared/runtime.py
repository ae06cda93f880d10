"""Builds the application's collaborators (state store, queue, gateways) from settings.

:class:`Runtime` is what every trigger uses: the state store, the sync queue, a clock and
factories for the Graph and ERP gateways. :func:`build_runtime` wires the real adapters
(Table Storage, Storage queue, msgraph-sdk, Acumatica); tests and the local host build a
Runtime from parts (e.g. in-memory twins). Adapters are imported lazily, so importing this
module does no I/O and loads no heavy SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

from shared.domain.config import Mailbox, ServerConfig
from shared.errors import ConfigurationError, ErpUnavailable
from shared.ports import Clock, ErpGateway, MailboxGateway, StateStore, SyncEngine, SyncQueue, SystemClock
from shared.settings import Settings
from shared.sync.run import sync as default_engine

logger = logging.getLogger(__name__)

MailboxGatewayFactory = Callable[[ServerConfig], Awaitable[MailboxGateway]]
ErpGatewayFactory = Callable[[], Awaitable[ErpGateway]]
ServerTester = Callable[[ServerConfig, list[Mailbox]], Awaitable[dict[str, Any]]]


@dataclasses.dataclass
class Runtime:
    """Everything a trigger needs. ``erp_gateway()`` returns a new gateway: close it after use."""

    settings: Settings
    state: StateStore
    queue: SyncQueue
    mailbox_gateway: MailboxGatewayFactory
    erp_gateway: ErpGatewayFactory
    clock: Clock = dataclasses.field(default_factory=SystemClock)
    server_tester: ServerTester | None = None
    engine: SyncEngine = dataclasses.field(default_factory=lambda: default_engine)
    graph_credential: Callable[[ServerConfig], Any] | None = None  # for Graph calls beside the gateway
    inbox_queue: SyncQueue | None = None  # system mailboxes' processing queue (shared.mailproc.intake)
    outbox_queue: SyncQueue | None = None  # system mailboxes' sending queue (shared.mailsend.pickup)
    closers: list[Callable[[], Awaitable[None]]] = dataclasses.field(default_factory=list)
    erp_wait_seconds: float = 120.0  # how long a run waits for a free ERP session before it fails
    _credentials: Any = dataclasses.field(default=None, repr=False)

    def credential_services(self) -> Any:
        """The credential features (rotation, expiry, review) for this runtime, built once."""
        if self._credentials is None:
            from shared.credentials.service import CredentialServices

            self._credentials = CredentialServices.from_settings(self.settings, self.state, self.clock)
        return self._credentials

    @contextlib.asynccontextmanager
    async def erp_session(self) -> AsyncIterator[ErpGateway]:
        """An ERP gateway for the block, always closed after it (its session slot freed).

        Waits at most ``erp_wait_seconds`` for a free session (``EXSYNC_ERP_MAX_SESSIONS``), then
        raises :class:`~shared.errors.ErpUnavailable`, which fails the run visibly.
        """
        try:
            gateway = await asyncio.wait_for(self.erp_gateway(), self.erp_wait_seconds)
        except TimeoutError as exc:
            raise ErpUnavailable(
                f"no ERP session became free within {self.erp_wait_seconds:.0f} s: every session "
                "EXSYNC_ERP_MAX_SESSIONS allows is in use by other runs of this process") from exc
        try:
            yield gateway
        finally:
            await gateway.aclose()

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            try:
                await close()
            except Exception:  # closing must not mask the real outcome
                logger.warning("closing a runtime resource failed", exc_info=True)
        self.closers.clear()


async def _state_from(settings: Settings) -> StateStore:
    from shared.state.table import TableStateStore

    conn = settings.storage_connection()
    retention = settings.log_retention_days
    if settings.state_table_endpoint:
        from azure.identity.aio import DefaultAzureCredential

        store = TableStateStore.from_endpoint(settings.state_table_endpoint, DefaultAzureCredential(),
                                              table_prefix=settings.table_prefix, retention_days=retention)
    elif conn:
        store = TableStateStore.from_connection_string(conn, table_prefix=settings.table_prefix,
                                                       retention_days=retention)
    else:
        raise ConfigurationError(
            "no state store configured: set EXSYNC_STATE_TABLE_ENDPOINT (managed identity) or "
            "EXSYNC_STATE_CONNECTION (a storage connection string, e.g. Azurite's)")
    await store.create_tables()
    return store  # type: ignore[no-any-return]


def _queue_from(settings: Settings) -> SyncQueue:
    from shared.state.storage_queue import StorageSyncQueue

    conn = settings.storage_connection()
    if settings.queue_endpoint:
        from azure.identity.aio import DefaultAzureCredential

        return StorageSyncQueue.from_endpoint(settings.queue_endpoint, settings.sync_queue,
                                              DefaultAzureCredential())
    if conn:
        return StorageSyncQueue.from_connection_string(conn, settings.sync_queue)
    raise ConfigurationError(
        "no queue configured: set EXSYNC_QUEUE_ENDPOINT (managed identity) or AzureWebJobsStorage "
        "(a storage connection string)")


CredentialFor = Callable[[ServerConfig], Any]


def production_credentials(settings: Settings) -> CredentialFor:
    """Each server's credential reference -> a token credential (Key Vault through the managed identity)."""
    from shared.credentials.service import graph_credential

    return lambda server: graph_credential(server, settings)


def credential_review(runtime: Runtime) -> ServerTester:
    """``Test server`` / doctor: the credentials package's configuration review."""

    async def test(server: ServerConfig, mailboxes: list[Mailbox]) -> dict[str, Any]:
        result: dict[str, Any] = await runtime.credential_services().server_test(server, mailboxes)
        return result

    return test


def _cached(credential_for: CredentialFor) -> CredentialFor:
    """One credential per server configuration (token caches survive between calls)."""
    cache: dict[str, tuple[ServerConfig, Any]] = {}

    def get(server: ServerConfig) -> Any:
        hit = cache.get(server.name)
        if hit is None or hit[0] != server:
            hit = (server, credential_for(server))
            cache[server.name] = hit
        return hit[1]

    return get


def graph_gateway_factory(credential_for: CredentialFor, closers: list[Callable[[], Awaitable[None]]],
                          timeout: float = 100.0) -> MailboxGatewayFactory:
    """Gateways on msgraph-sdk, one per server (cached until the server's settings change)."""
    cache: dict[str, tuple[ServerConfig, MailboxGateway]] = {}

    async def build(server: ServerConfig) -> MailboxGateway:
        hit = cache.get(server.name)
        if hit is not None and hit[0] == server:
            return hit[1]
        from shared.graph.gateway import GraphMailboxGateway

        gateway = GraphMailboxGateway.create(credential_for(server), server.graph_base_url,
                                             update_batch_size=server.update_batch_size,
                                             max_attachment_kb=server.max_attachment_kb, timeout=timeout)
        if hit is not None:
            closers.remove(getattr(hit[1], "aclose"))  # noqa: B009
            await getattr(hit[1], "aclose")()  # noqa: B009
        cache[server.name] = (server, gateway)
        closers.append(gateway.aclose)
        return gateway

    return build


class _SessionSlot:
    """An ERP gateway that hands its session back to the pool (and frees its slot) when closed."""

    def __init__(self, gateway: Any, release: Callable[[], None]) -> None:
        self._gateway = gateway
        self._release: Callable[[], None] | None = release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)

    async def aclose(self) -> None:
        try:
            await self._gateway.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class ErpSessionPool:
    """ERP sessions of this process, reused across runs and logged out by :meth:`aclose`.

    The local host (``devhost.serve``) closes its runtime when it stops; the Functions Python worker has
    no shutdown hook, so in Azure the sessions of a stopped instance expire on Acumatica's idle timeout.

    At most ``max_sessions`` (``EXSYNC_ERP_MAX_SESSIONS``) are in use at once: Acumatica's licence
    caps concurrent API sessions, and a session abandoned without a logout holds its slot for about
    ten minutes. A run borrows one through a gateway (:meth:`gateway`); closing the gateway gives
    the session back still logged in, so the next run reuses its cookie instead of logging in.
    """

    def __init__(self, max_sessions: int, open_session: Callable[[], Any],
                 gateway_over: Callable[[Any], ErpGateway]) -> None:
        self._max = max_sessions
        self._open, self._over = open_session, gateway_over
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[Any] = []
        self._all: list[Any] = []

    async def gateway(self) -> ErpGateway:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max)
        slots = self._slots
        await slots.acquire()
        try:
            if self._idle:
                session = self._idle.pop()
            else:
                session = self._open()
                self._all.append(session)
            gateway = self._over(session)
        except BaseException:
            slots.release()
            raise

        def release() -> None:
            self._idle.append(session)
            slots.release()

        return cast(ErpGateway, _SessionSlot(gateway, release))

    @property
    def sessions(self) -> int:
        """How many sessions this process opened so far."""
        return len(self._all)

    async def aclose(self) -> None:
        """Log every session out (frees the licence slots)."""
        sessions, self._all, self._idle = self._all, [], []
        for session in sessions:
            closer = getattr(session, "aclose", None)
            if closer is not None:
                await closer()


def acumatica_sessions(settings: Settings) -> ErpSessionPool:
    """The pool of Acumatica sessions for the configured ERP."""

    from shared.erp.session import RequestSlots

    slots = RequestSlots(settings.erp_max_concurrent_requests)  # the licence counts the whole process

    def open_session() -> Any:
        settings.require("erp_url", "erp_username", "erp_password")
        from shared.erp.session import AcumaticaSession

        assert settings.erp_url is not None and settings.erp_password is not None
        return AcumaticaSession(settings.erp_url, username=settings.erp_username or "",
                                password=settings.erp_password.get_secret_value(),
                                tenant=settings.erp_tenant or "", slots=slots)

    def gateway_over(session: Any) -> ErpGateway:
        from shared.erp.acumatica import AcumaticaErpGateway

        return cast(ErpGateway, AcumaticaErpGateway(settings.erp_url or "", username="", password="", tenant="",
                                                    session=session))

    return ErpSessionPool(settings.erp_max_sessions, open_session, gateway_over)


def erp_gateway_factory(settings: Settings, pool: ErpSessionPool | None = None) -> ErpGatewayFactory:
    """An Acumatica gateway per run over a pooled session (the caller closes the gateway)."""
    return (pool or acumatica_sessions(settings)).gateway


async def build_runtime(settings: Settings, *, credential_for: CredentialFor | None = None,
                        review: bool = True) -> Runtime:
    """The production wiring: Table Storage, the Storage queue, Graph and Acumatica.

    ``credential_for`` overrides how a server's Graph credential is built (the local host uses a
    static token against the Graph simulator); ``review`` False replaces the credential review of
    ``Test server`` by a plain reachability check of each mailbox (no token endpoint locally).
    """
    state = await _state_from(settings)
    queue = _queue_from(settings)
    closers: list[Callable[[], Awaitable[None]]] = [queue.aclose]
    credentials = _cached(credential_for or production_credentials(settings))
    sessions = acumatica_sessions(settings)
    closers.append(sessions.aclose)
    runtime = Runtime(settings=settings, state=state, queue=queue,
                      mailbox_gateway=graph_gateway_factory(credentials, closers, settings.graph_timeout_seconds),
                      erp_gateway=erp_gateway_factory(settings, sessions), closers=closers,
                      graph_credential=credentials)
    if review:
        runtime.server_tester = credential_review(runtime)
    closer = getattr(state, "aclose", None)
    if closer is not None:
        runtime.closers.append(closer)
    return runtime
