"""Scheduled fan-out: which mailboxes are due, one queue message each. Never syncs itself.

Each tick with a due server first reads the tenant ERP change feed (:mod:`shared.admin.erp_feed`):
one listing per record type for every mailbox, routed to the mailboxes whose scope sees each change.
A due server's mailboxes are all queued (their mailbox side is polled on the server's schedule; a
run with nothing routed costs the ERP nothing); a mailbox of a server not due is queued only when
it got routed changes, for those record types (reason ``erp-feed``).

The timer fires on ``EXSYNC_SCHEDULE``; each active server has its own NCRONTAB ``schedule``.
A server is due when its schedule fired since the last tick that enqueued it (kept in the
DocumentStore, kind ``schedule``). Messages are enqueued in groups of ``accounts_in_batch``; group
k becomes visible after ``k * EXSYNC_BATCH_STAGGER_SECONDS``, so a server's mailboxes start in
waves. A mailbox whose full sync still waits on the queue (younger than the lease time) is skipped;
a running or targeted (notification) run does not stop a scheduled one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.admin import erp_feed, pending
from shared.admin.enqueue import enqueue_syncs
from shared.admin.ncrontab import Schedule
from shared.domain.config import Mailbox, ServerConfig
from shared.domain.records import RecordType
from shared.errors import ConcurrencyConflict, ExsyncError
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

KIND = "schedule"


@dataclasses.dataclass(frozen=True, slots=True)
class FanOut:
    """What one tick did: run ids per server and how many mailboxes were queued/skipped."""

    runs: dict[str, str]
    queued: int
    skipped: int


async def _in_flight(rt: Runtime, mailbox: Mailbox, now: datetime) -> bool:
    """A full sync of the mailbox already waits on the queue (targeted ones do not count)."""
    return await pending.covered(rt.state, mailbox.email, None, now,
                                 timedelta(seconds=rt.settings.lease_seconds))


async def _due(rt: Runtime, server: ServerConfig, now: datetime) -> tuple[bool, str | None]:
    doc = await rt.state.get_doc(KIND, server.name)
    last = datetime.fromisoformat(doc.value["last"]) if doc and doc.value.get("last") else None
    try:
        schedule = Schedule.parse(server.schedule)
    except ExsyncError:
        logger.error("server %s has an invalid schedule; fix it with PUT /api/servers/%s",
                     server.name, server.name)
        return False, None
    return schedule.due(last, now), doc.etag if doc else None


def group_delay(group_size: int, stagger: int) -> Callable[[int], int]:
    """Visibility delay of the i-th message: its group number times the stagger."""

    def delay(index: int) -> int:
        return (index // group_size) * stagger

    return delay


async def _claim_due(rt: Runtime, now: datetime) -> list[ServerConfig]:
    """The active servers whose schedule fired, each claimed for this tick (another tick loses)."""
    claimed = []
    for stored in await rt.state.list_servers():
        server = stored.value
        if not server.is_active:
            continue
        due, etag = await _due(rt, server, now)
        if not due:
            continue
        try:
            await rt.state.put_doc(KIND, server.name, {"last": now.isoformat()}, etag)
        except ConcurrencyConflict:
            logger.info("server %s was fanned out by another tick", server.name)
            continue
        claimed.append(server)
    return claimed


async def fan_out(rt: Runtime) -> FanOut:
    """Read the tenant ERP feed once, then enqueue every due mailbox of every active server, and
    the mailboxes of servers not due that got ERP changes (those run for the changed types only)."""
    now = rt.clock.now()
    runs: dict[str, str] = {}
    queued = skipped = 0
    due = await _claim_due(rt, now)
    changed = await erp_feed.tick(rt) if due else {}
    for server in due:
        mailboxes = [m.value for m in await rt.state.list_mailboxes(server.name) if m.value.sync]
        chosen = []
        for mailbox in mailboxes:
            changed.pop(mailbox.email, None)
            if await _in_flight(rt, mailbox, now):
                skipped += 1
            else:
                chosen.append(mailbox)
        runs[server.name] = await enqueue_syncs(
            rt, chosen, reason="schedule",
            delay_for=group_delay(server.accounts_in_batch, rt.settings.batch_stagger_seconds))
        queued += len(chosen)
    queued += await _enqueue_changed(rt, changed)
    logger.info("schedule tick: %d mailbox(es) queued, %d still in flight, %d server(s) due",
                queued, skipped, len(runs))
    return FanOut(runs, queued, skipped)


async def _enqueue_changed(rt: Runtime, changed: dict[str, frozenset[RecordType]]) -> int:
    """Mailboxes of servers not due this tick that got routed ERP changes: one run per set of types."""
    active = {s.value.name for s in await rt.state.list_servers() if s.value.is_active}
    by_types: dict[frozenset[RecordType], list[Mailbox]] = {}
    for email, types in sorted(changed.items()):
        stored = await rt.state.get_mailbox(email)
        if stored is not None and stored.value.sync and stored.value.server in active:
            by_types.setdefault(types, []).append(stored.value)
    for types, mailboxes in by_types.items():
        await enqueue_syncs(rt, mailboxes, reason="erp-feed", record_types=tuple(sorted(types)))
    return sum(len(m) for m in by_types.values())
