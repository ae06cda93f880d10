"""How system-mailbox mail reaches processing, and the processing run of one mailbox.

- Settings: DocumentStore kind ``system_mailboxes`` (key = address; ``created_at`` kept beside the
  settings: mail received more than :data:`HISTORY_MARGIN` before it is history, never processed).
- Queue: processing requests travel on ``<EXSYNC_SYNC_QUEUE>-inbox`` (the sync queue's message
  format, the address as the mailbox), coalesced like sync requests (``pending`` key
  ``inbox|<address>``): a notification whose mailbox already waits is not queued again.
- Sources: Graph notifications on the Inbox (subscriptions kept by the subscription keeper in
  kind ``system_subscriptions``; lifecycle ``missed`` queues a run), the schedule timer (every tick
  queues every processing mailbox: the delta catches what a lost notification missed), and the
  admin API.
- A run: the mailbox lease ``mailproc:<address>`` (a second worker finds it held and stops), the
  Inbox delta from the stored cursor (``inbox.delta``), each new message read with its headers and
  processed (:mod:`shared.mailproc.process`), the cursor saved after each page.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.admin import pending
from shared.admin.queue import SyncQueue, SyncRequest
from shared.domain.config import ServerConfig, parse
from shared.errors import ConfigurationError, ExsyncError, NotFound, SyncStateLost
from shared.mailproc.model import SystemMailbox
from shared.mailproc.process import Processor, Result
from shared.ports import CrmGateway, InboxMessage, Stored, SystemMailGateway
from shared.runtime import Runtime
from shared.state.threads import ThreadMap

logger = logging.getLogger(__name__)

KIND = "system_mailboxes"
SUBSCRIPTIONS = "system_subscriptions"
CURSOR = "inbox.delta"
PAGE_SIZE = 50
HISTORY_MARGIN = timedelta(minutes=5)  # clock skew between us and Exchange; older mail is history


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    mailbox: SystemMailbox
    created_at: datetime
    etag: str


def _entry(stored: Stored[dict[str, Any]]) -> Entry:
    return Entry(parse(SystemMailbox, stored.value["settings"]), datetime.fromisoformat(stored.value["created_at"]),
                 stored.etag)


async def get(rt: Runtime, address: str) -> Entry | None:
    doc = await rt.state.get_doc(KIND, address.lower())
    return _entry(doc) if doc else None


async def require(rt: Runtime, address: str) -> Entry:
    found = await get(rt, address)
    if found is None:
        raise NotFound(f"system mailbox {address.lower()} does not exist")
    return found


async def list_all(rt: Runtime) -> list[Entry]:
    return sorted((_entry(doc) for _, doc in await rt.state.list_docs(KIND)), key=lambda e: e.mailbox.address)


async def save(rt: Runtime, mailbox: SystemMailbox, etag: str | None, created_at: datetime) -> str:
    value = {"settings": mailbox.model_dump(mode="json"), "created_at": created_at.isoformat()}
    return await rt.state.put_doc(KIND, mailbox.address, value, etag, force=etag is None)


async def own_addresses(rt: Runtime) -> frozenset[str]:
    """Every system address and reply address: mail from them is a loop."""
    out: set[str] = set()
    for entry in await list_all(rt):
        out.add(entry.mailbox.address)
        if entry.mailbox.incoming.reply_address:
            out.add(entry.mailbox.incoming.reply_address)
    return frozenset(out)


# ---------------------------------------------------------------- queue


def inbox_queue(rt: Runtime) -> SyncQueue:
    """The processing queue (``<sync queue>-inbox``), built on first use and closed with the runtime."""
    if rt.inbox_queue is None:
        from shared.admin.storage_queue import StorageSyncQueue

        name = f"{rt.settings.sync_queue}-inbox"
        conn = rt.settings.storage_connection()
        if rt.settings.queue_endpoint:
            from azure.identity.aio import DefaultAzureCredential

            queue = StorageSyncQueue.from_endpoint(rt.settings.queue_endpoint, name, DefaultAzureCredential())
        elif conn:
            queue = StorageSyncQueue.from_connection_string(conn, name)
        else:
            raise ConfigurationError("no queue configured for system mailboxes: set AzureWebJobsStorage")
        rt.inbox_queue = queue
        rt.closers.append(queue.aclose)
    return rt.inbox_queue


def _pending_key(address: str) -> str:
    return f"inbox|{address}"


async def enqueue(rt: Runtime, addresses: Sequence[str], reason: str, *, coalesce: bool = True) -> int:
    """Queue a processing run per address (skipping those already waiting when ``coalesce``)."""
    wanted = [(_pending_key(a), SyncRequest(a, uuid.uuid4().hex, reason)) for a in addresses]
    sent = await pending.wake_up(rt.state, inbox_queue(rt), wanted, rt.clock.now(),
                                 timedelta(seconds=rt.settings.lease_seconds), coalesce=coalesce)
    if sent:
        logger.info("system mailboxes: %d processing run(s) queued (%s)", sent, reason)
    return sent


async def fan_out(rt: Runtime) -> int:
    """The schedule's hook: queue every processing mailbox (its delta catches lost notifications)."""
    return await enqueue(rt, [e.mailbox.address for e in await list_all(rt) if e.mailbox.processing], "schedule")


# ---------------------------------------------------------------- notifications


async def take_notifications(rt: Runtime, items: list[dict[str, Any]], *, lifecycle: bool = False
                             ) -> list[dict[str, Any]]:
    """Handle the notifications of system-mailbox subscriptions; return the others untouched."""
    rest: list[dict[str, Any]] = []
    wanted: list[str] = []
    for item in items:
        sub_id = str(item.get("subscriptionId") or "")
        doc = await rt.state.get_doc(SUBSCRIPTIONS, sub_id) if sub_id else None
        if doc is None:
            rest.append(item)
            continue
        event = item.get("lifecycleEvent")
        if not lifecycle or event == "missed":
            wanted.append(doc.value["mailbox"])
        elif event == "subscriptionRemoved":
            await rt.state.delete_doc(SUBSCRIPTIONS, sub_id)
        elif event == "reauthorizationRequired":
            await rt.state.put_doc(SUBSCRIPTIONS, sub_id, {**doc.value, "renew_now": True}, force=True)
    active = {e.mailbox.address for e in await list_all(rt) if e.mailbox.processing}
    await enqueue(rt, sorted({a for a in wanted if a in active}), "lifecycle" if lifecycle else "graph")
    return rest


# ---------------------------------------------------------------- a processing run


@contextlib.asynccontextmanager
async def ports(rt: Runtime, mailbox: SystemMailbox) -> AsyncIterator[tuple[SystemMailGateway, CrmGateway]]:
    """The Graph and ERP ports of a system mailbox (the server's gateway, one ERP session)."""
    from shared.erp.crm import AcumaticaCrm
    from shared.graph.client import GraphHttp
    from shared.graph.system_mail import GraphSystemMail

    server = await server_of(rt, mailbox)
    http = getattr(await rt.mailbox_gateway(server), "http", None)
    if not isinstance(http, GraphHttp):
        raise ConfigurationError("system mailboxes need the Graph mailbox gateway")
    erp = await rt.erp_gateway()
    try:
        session = getattr(erp, "session", None)
        if session is None:
            raise ConfigurationError("system mailboxes need the Acumatica ERP gateway")
        yield GraphSystemMail(http), AcumaticaCrm(session)
    finally:
        await erp.aclose()


async def server_of(rt: Runtime, mailbox: SystemMailbox) -> ServerConfig:
    stored = await rt.state.get_server(mailbox.server)
    if stored is None:
        raise ConfigurationError(f"system mailbox {mailbox.address}: server {mailbox.server} does not exist")
    return stored.value


async def processor(rt: Runtime, entry: Entry, mail: SystemMailGateway, crm: CrmGateway) -> Processor:
    return Processor(entry.mailbox, mail, crm, ThreadMap(rt.state), rt.clock, await own_addresses(rt))


@dataclasses.dataclass
class RunReport:
    address: str
    state: str = "done"           # done | busy | off
    processed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    skipped: int = 0


async def process_inbox(rt: Runtime, address: str, *, owner: str | None = None) -> RunReport:
    """One processing run of ``address`` under its lease (see the module docstring)."""
    report = RunReport(address)
    entry = await get(rt, address)
    if entry is None or not entry.mailbox.processing:
        report.state = "off"
        return report
    owner = owner or uuid.uuid4().hex
    lease = f"mailproc:{address}"
    if not await rt.state.acquire_lease(lease, owner, rt.settings.lease_seconds):
        report.state = "busy"
        return report
    try:
        await pending.clear(rt.state, _pending_key(address))
        async with ports(rt, entry.mailbox) as (mail, crm):
            work = await processor(rt, entry, mail, crm)
            await _drain(rt, entry, mail, work, report)
    finally:
        await rt.state.release_lease(lease, owner)
    logger.info("system mailbox run: %d processed, %d skipped", len(report.processed), report.skipped)
    return report


async def _drain(rt: Runtime, entry: Entry, mail: SystemMailGateway, work: Processor, report: RunReport) -> None:
    address = entry.mailbox.address
    stored = await rt.state.get_cursor(address, CURSOR)
    cursor = stored.value if stored else None
    while True:
        try:
            page = await mail.inbox_changes(address, cursor, PAGE_SIZE)
        except SyncStateLost:
            logger.warning("system mailbox delta expired; reading the Inbox again")
            await rt.state.delete_cursor(address, CURSOR)
            cursor = None
            continue
        for message in page.items:
            if not isinstance(message, InboxMessage):
                continue
            if message.received_at is not None and message.received_at < entry.created_at - HISTORY_MARGIN:
                report.skipped += 1
                continue
            result: Result = await work.process(message)
            if result.skipped:
                report.skipped += 1
            else:
                report.processed.append(result.to_json())
        if page.cursor:
            await rt.state.put_cursor(address, CURSOR, page.cursor)
            cursor = page.cursor
        if page.complete:
            return


async def dry_run(rt: Runtime, address: str, last: int) -> list[dict[str, Any]]:
    """The decisions for the newest ``last`` Inbox messages; reads only."""
    entry = await require(rt, address)
    async with ports(rt, entry.mailbox) as (mail, crm):
        work = await processor(rt, entry, mail, crm)
        return [(await work.dry_run(m)).to_json() for m in await mail.recent(address, last)]


async def check(rt: Runtime, address: str) -> dict[str, Any]:
    """The "Test" action: Graph findings plus the health of the Inbox subscription."""
    entry = await require(rt, address)
    findings: list[dict[str, Any]] = []
    try:
        async with ports(rt, entry.mailbox) as (mail, _):
            findings.extend(await mail.check(address))
    except ExsyncError as exc:
        findings.append({"check": "connect", "ok": False, "message": str(exc), "fix": "check the server settings"})
    subs = [doc.value for _, doc in await rt.state.list_docs(SUBSCRIPTIONS) if doc.value.get("mailbox") == address]
    now = rt.clock.now()
    healthy = any(datetime.fromisoformat(s["expires_at"]) > now and not s.get("renew_now") for s in subs)
    findings.append({"check": "inbox subscription", "ok": healthy, **({} if healthy else {
        "message": "no live Inbox subscription", "fix": "set EXSYNC_GRAPH_NOTIFICATION_URL; the keeper creates it "
                                                        "(POST /api/servers/{name}/initialize runs it now)"})})
    return {"address": address, "ok": all(f["ok"] for f in findings), "findings": findings}
