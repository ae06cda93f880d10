"""Scheduled fan-out: which mailboxes are due, one queue message each. Never syncs itself.

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

from shared.admin import pending
from shared.admin.enqueue import enqueue_syncs
from shared.admin.ncrontab import Schedule
from shared.domain.config import Mailbox, ServerConfig
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


async def fan_out(rt: Runtime) -> FanOut:
    """Enqueue every due mailbox of every active server."""
    now = rt.clock.now()
    runs: dict[str, str] = {}
    queued = skipped = 0
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
        mailboxes = [m.value for m in await rt.state.list_mailboxes(server.name) if m.value.sync]
        chosen = []
        for mailbox in mailboxes:
            if await _in_flight(rt, mailbox, now):
                skipped += 1
            else:
                chosen.append(mailbox)
        runs[server.name] = await enqueue_syncs(
            rt, chosen, reason="schedule",
            delay_for=group_delay(server.accounts_in_batch, rt.settings.batch_stagger_seconds))
        queued += len(chosen)
    logger.info("schedule tick: %d mailbox(es) queued, %d still in flight, %d server(s) due",
                queued, skipped, len(runs))
    return FanOut(runs, queued, skipped)
