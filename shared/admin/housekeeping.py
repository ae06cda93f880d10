"""Housekeeping: log retention, expired leases, abandoned create intents, finished run records.

An expired lease is taken over by the next worker anyway; its row is removed here so crashed
workers leave nothing behind. The mailbox lease is not a LeaseStore row: it is the ``holder`` of
the mailbox's waiting document (:mod:`shared.admin.pending`), judged expired by its ``until``, so
a crashed worker's holder needs no purge (the next take takes it over, the next last look clears it).

Intents older than a day belong to runs that crashed long ago and
whose stamps were resolved or never written — the engine resolves younger ones itself.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from shared.runtime import Runtime

logger = logging.getLogger(__name__)

INTENT_AGE = timedelta(days=1)
RUN_RECORD_AGE = timedelta(days=2)


@dataclasses.dataclass(frozen=True, slots=True)
class Swept:
    log_entries: int
    leases: int
    intents: int
    run_records: int


async def sweep(rt: Runtime) -> Swept:
    now = rt.clock.now()
    logs = await rt.state.purge_log(now - timedelta(days=rt.settings.log_retention_days))
    leases = await rt.state.purge_leases()
    intents = await rt.state.purge_intents(now - INTENT_AGE)
    runs = 0
    for key, doc in await rt.state.list_docs("runs"):
        at = doc.value.get("at")
        if at and datetime.fromisoformat(at) < now - RUN_RECORD_AGE:
            await rt.state.delete_doc("runs", key)
            runs += 1
    result = Swept(logs, leases, intents, runs)
    logger.info("housekeeping: %d log entries, %d expired leases, %d intents, %d run records removed",
                logs, leases, intents, runs)
    return result
