"""Runs and failures per hour over the last day, for the console's health charts.

Each mailbox's waiting document (:mod:`shared.admin.pending`) holds ``hours``: the UTC hours of
the last day it ran in (``2026-12-01T21``) mapped to ``[runs, failed]``. A run is counted by the
write its lease holder makes at the run's end anyway (the next take, or the last look that lets
the lease go: :func:`counted` is staged on the desk), so counting costs no request of its own.
:func:`count_run` is the pure count (pruned to the last 24 hours); :func:`last_day` adds up every
mailbox's hours into 24 hours, oldest first, with hours nobody ran as zero (one query over the
waiting documents, :func:`read_last_day`).

Before the counts lived there, twenty-four tenant-wide documents (kind ``run_history``, key the
UTC hour ``00``..``23``, each ``{"hour", "runs", "failed"}``) counted the runs; they are no longer
written but still read, so the chart of the day of an upgrade loses nothing (slots older than a day
fall outside the window by themselves).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.admin.pending import KIND as WAITING_KIND
from shared.admin.pending import Edit
from shared.domain.status import RunState
from shared.ports import DocumentStore

KIND = "run_history"
"""The tenant-wide hour slots of earlier versions (read only)."""
FIELD = "hours"
HOURS = 24


@dataclasses.dataclass(frozen=True, slots=True)
class Hour:
    start: datetime
    runs: int
    failed: int


def hour_stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H")


def count_run(hours: Mapping[str, Sequence[int]] | None, at: datetime, state: RunState) -> dict[str, list[int]]:
    """A mailbox's hours after one more finished run at ``at``; hours older than the last day drop."""
    oldest = hour_stamp(at - timedelta(hours=HOURS - 1))
    kept = {stamp: [int(c[0]), int(c[1])] for stamp, c in (hours or {}).items() if stamp >= oldest}
    runs, failed = kept.get(hour_stamp(at), [0, 0])
    kept[hour_stamp(at)] = [runs + 1, failed + (1 if state is RunState.FAILED else 0)]
    return kept


def counted(state: RunState, at: datetime) -> Edit:
    """The change to a waiting document that counts one finished run."""
    return lambda value: {**value, FIELD: count_run(value.get(FIELD), at, state)}


def last_day(slots: Iterable[Mapping[str, Any]], now: datetime,
             mailboxes: Iterable[Mapping[str, Sequence[int]]] = ()) -> list[Hour]:
    """The 24 hours ending with the current one: the old tenant-wide ``slots`` plus every mailbox's
    hours; whatever lies outside them is ignored."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    old = ({str(s.get("hour")): (s.get("runs", 0), s.get("failed", 0))} for s in slots)
    totals: dict[str, list[int]] = {}
    for hours in (*old, *mailboxes):
        for stamp, (runs, failed) in hours.items():
            total = totals.setdefault(stamp, [0, 0])
            total[0] += int(runs)
            total[1] += int(failed)
    starts = [first + timedelta(hours=i) for i in range(HOURS)]
    return [Hour(h, *totals.get(hour_stamp(h), [0, 0])) for h in starts]


async def read_last_day(store: DocumentStore, now: datetime) -> list[Hour]:
    """The console's chart: one query over the waiting documents, one over the old slots."""
    waiting = [stored.value.get(FIELD) or {} for _, stored in await store.list_docs(WAITING_KIND)]
    return last_day([stored.value for _, stored in await store.list_docs(KIND)], now, waiting)
