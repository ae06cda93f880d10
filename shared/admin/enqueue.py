"""The enqueue service: turn "sync these mailboxes" into waiting requests and queue wake-ups.

Every trigger (``POST /api/sync``, the schedule, Graph and ERP notifications) goes through
:func:`enqueue_syncs`: it merges the request into the mailbox's waiting request
(:mod:`shared.admin.pending`), shows ``queued`` in the status (a running mailbox keeps showing
``running``) and sends one queue message that wakes a worker up.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from shared.admin import pending
from shared.admin.queue import SyncRequest
from shared.admin.status import update_status
from shared.domain.config import Mailbox
from shared.domain.records import RecordType
from shared.domain.status import MailboxStatus, RunState, RunSummary
from shared.runtime import Runtime

logger = logging.getLogger(__name__)


def _queued(run: RunSummary, status: MailboxStatus) -> MailboxStatus:
    if status.last_run is not None and status.last_run.state is RunState.RUNNING:
        return status
    return dataclasses.replace(status, last_run=run)


async def enqueue_syncs(rt: Runtime, mailboxes: list[Mailbox], *, reason: str,
                        record_types: tuple[RecordType, ...] | None = None,
                        run_id: str | None = None, delay_for: Callable[[int], int] | None = None,
                        coalesce: bool = False) -> str:
    """Queue one request per mailbox and mark each as queued; returns the run id.

    ``coalesce`` (notifications): skip a mailbox whose waiting request already covers the types.
    """
    run_id = run_id or uuid.uuid4().hex
    now = rt.clock.now()

    async def queued(request: SyncRequest) -> None:
        shown = RunSummary(run_id, RunState.QUEUED, now)
        await update_status(rt.state, request.mailbox, functools.partial(_queued, shown))

    wanted = [(m.email, SyncRequest(m.email, run_id, reason, record_types)) for m in mailboxes]
    sent = await pending.wake_up(rt.state, rt.queue, wanted, now, timedelta(seconds=rt.settings.lease_seconds),
                                 coalesce=coalesce, delay_for=delay_for, marked=queued)
    logger.info("run %s: queued %d mailbox(es) (%s)", run_id, sent, reason)
    return run_id
