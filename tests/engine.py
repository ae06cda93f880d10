"""Run the engine the way the worker does: the outcome recorded into the mailbox status."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from shared.admin.status import record_outcome
from shared.domain.records import RecordType
from shared.domain.status import RunSummary
from shared.ports import SyncJob
from shared.sync.run import sync


async def sync_mailbox(*, record_types: Collection[RecordType] | None = None, **job: Any) -> RunSummary:
    """``shared.sync.run.sync`` with keyword arguments, then the status written like the worker writes it."""
    run = SyncJob(record_types=None if record_types is None else tuple(record_types), **job)
    outcome = await sync(run)
    await record_outcome(run.state, run.mailbox.email, outcome)
    return outcome.summary
