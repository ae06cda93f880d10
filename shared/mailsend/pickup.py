"""When system mailboxes send: the schedule tick, an ERP push, a queued run (PRODUCT §8).

- :func:`fan_out` (the schedule's hook) queues a sending run for every system mailbox that sends:
  active, an ERP e-mail account set, not suspended, its server active and not suspended.
- :func:`take_push` (the ERP push intake's hook) queues the mailboxes whose account a pushed Email
  row in Pending Processing names (the push query must include ``MailStatus`` and
  ``FromEmailAccountID``), so mail leaves within seconds instead of at the next tick.
- :func:`send_one` (the ``<sync queue>-outbox`` trigger) runs :mod:`shared.mailsend.run` for one
  mailbox under a lease (one sender per mailbox keeps the pacing exact) with the real ports.
Runs are coalesced like the system mailboxes' processing: one waiting run per mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from shared import runtime as wiring
from shared.admin import pending
from shared.admin.queue import SyncQueue, SyncRequest
from shared.errors import ConfigurationError
from shared.mailproc import intake
from shared.mailproc.model import SystemMailbox
from shared.mailsend.ledger import Ledger
from shared.mailsend.run import MailPorts, Report, SendSettings, send_mailbox
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

PENDING = "Pending Processing"
BUDGET = timedelta(minutes=4)   # a run paces itself at most this long, then the rest waits for the next


def outbox_queue(rt: Runtime) -> SyncQueue:
    """The sending queue (``<sync queue>-outbox``), built on first use and closed with the runtime."""
    if rt.outbox_queue is None:
        name = f"{rt.settings.sync_queue}-outbox"
        queue = wiring._queue_from(rt.settings.model_copy(update={"sync_queue": name}))
        rt.outbox_queue = queue
        rt.closers.append(queue.aclose)
    return rt.outbox_queue


async def _senders(rt: Runtime) -> list[SystemMailbox]:
    return [e.mailbox for e in await intake.list_all(rt)
            if e.mailbox.active and e.mailbox.sending.erp_account_id is not None and not e.mailbox.sending.suspended]


async def enqueue(rt: Runtime, addresses: Sequence[str], reason: str) -> int:
    """Queue a sending run per address, unless one already waits."""
    wanted = [(f"outbox|{a}", SyncRequest(a, uuid.uuid4().hex, reason)) for a in addresses]
    sent = await pending.wake_up(rt.state, outbox_queue(rt), wanted, rt.clock.now(),
                                 timedelta(seconds=rt.settings.lease_seconds))
    if sent:
        logger.info("system mailboxes: %d sending run(s) queued (%s)", sent, reason)
    return sent


async def fan_out(rt: Runtime) -> int:
    """The schedule's hook: queue every mailbox that sends."""
    return await enqueue(rt, [m.address for m in await _senders(rt)], "schedule")


def _value(row: Any, name: str) -> Any:
    field = row.get(name) if isinstance(row, dict) else None
    return field.get("value") if isinstance(field, dict) else field


async def take_push(rt: Runtime, body: dict[str, Any]) -> int:
    """The ERP push intake's hook: queue the mailboxes whose account has new mail to send."""
    accounts = {_value(row, "FromEmailAccountID") for row in body.get("Inserted") or []
                if _value(row, "MailStatus") == PENDING}
    if not accounts - {None}:
        return 0
    return await enqueue(rt, [m.address for m in await _senders(rt) if m.sending.erp_account_id in accounts], "erp")


@contextlib.asynccontextmanager
async def ports(rt: Runtime, system: SystemMailbox,
                sleep: Callable[[float], Awaitable[None]]) -> AsyncIterator[MailPorts]:
    """The real ports of a system mailbox: the server's Graph HTTP stack and one ERP session."""
    from shared.erp.crm import AcumaticaCrm
    from shared.erp.outbox import AcumaticaOutbox
    from shared.graph.client import GraphHttp
    from shared.graph.sender import GraphMailSender

    server = await intake.server_of(rt, system)
    http = getattr(await rt.mailbox_gateway(server), "http", None)
    if not isinstance(http, GraphHttp):
        raise ConfigurationError("transactional mail needs the Graph mailbox gateway")
    erp = await rt.erp_gateway()
    try:
        session = getattr(erp, "session", None)
        if session is None:
            raise ConfigurationError("transactional mail needs the Acumatica ERP gateway")
        yield MailPorts(outbox=AcumaticaOutbox(session), sender=GraphMailSender(http), docs=rt.state,
                        clock=rt.clock, crm=AcumaticaCrm(session), sleep=sleep)
    finally:
        await erp.aclose()


def suspension(rt: Runtime, address: str) -> Callable[[], Awaitable[bool]]:
    """Asked before every mail: is sending off for the mailbox or its server (read afresh)?"""

    async def suspended() -> bool:
        entry = await intake.get(rt, address)
        if entry is None or not entry.mailbox.active or entry.mailbox.sending.suspended:
            return True
        server = await rt.state.get_server(entry.mailbox.server)
        return server is None or not server.value.is_active or server.value.suspend_sending

    return suspended


async def send_one(rt: Runtime, address: str, *, owner: str | None = None, budget: timedelta = BUDGET,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Report | None:
    """One sending run of ``address`` under its lease; None when off or another run holds it."""
    entry = await intake.get(rt, address)
    if entry is None or entry.mailbox.sending.erp_account_id is None:
        return None
    owner = owner or uuid.uuid4().hex
    lease = f"mailsend:{entry.mailbox.address}"
    if not await rt.state.acquire_lease(lease, owner, max(rt.settings.lease_seconds, budget.total_seconds() * 2)):
        return None
    try:
        await pending.clear(rt.state, f"outbox|{entry.mailbox.address}")
        server = await intake.server_of(rt, entry.mailbox)
        settings = SendSettings(max_attempts=server.resend_attempts, budget=budget,
                                max_file_bytes=entry.mailbox.sending.max_message_mb * 1024 * 1024)
        async with ports(rt, entry.mailbox, sleep) as mail_ports:
            report = await send_mailbox(mail_ports, entry.mailbox, settings, suspension(rt, entry.mailbox.address))
    finally:
        await rt.state.release_lease(lease, owner)
    logger.info("system mailbox sending run: %s", dict(report.outcomes))
    return report


async def status(rt: Runtime, address: str) -> dict[str, Any] | None:
    """The last sending run and the quota used (None: the mailbox never sent)."""
    return await Ledger(rt.state).status(address)


async def doctor(rt: Runtime, address: str) -> list[dict[str, Any]]:
    """The doctor's findings for one sending system mailbox (see :mod:`shared.mailsend.doctor`)."""
    from shared.mailsend import doctor as checks

    entry = await intake.require(rt, address)
    suspended = await suspension(rt, entry.mailbox.address)()
    async with ports(rt, entry.mailbox, asyncio.sleep) as mail_ports:
        return await checks.check(mail_ports, entry.mailbox, suspended)
