"""Runs and failures per hour over the last day, for the console's health charts.

Twenty-four documents (kind ``run_history``, key the UTC hour ``00``..``23``) each hold the hour they
count (``2026-12-01T21``) and its totals; a run in a new hour replaces that slot's old day. Counting
is a pure function (:func:`count_run`); :func:`last_day` turns the slots into 24 hours, oldest first,
with hours nobody ran as zero.

A run costs one write: the slot as this process last wrote it is remembered per store
(:data:`_WRITTEN`), so the count is a conditional write on top of it; a 412 (another process
counted meanwhile) reads the slot and counts again.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.domain.status import RunState, RunSummary
from shared.errors import AlreadyExists, ConcurrencyConflict, ExsyncError
from shared.ports import DocumentStore, Stored

logger = logging.getLogger(__name__)

KIND = "run_history"
_ATTEMPTS = 5
_WRITTEN: weakref.WeakKeyDictionary[DocumentStore, dict[str, Stored[dict[str, Any]]]] = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True, slots=True)
class Hour:
    start: datetime
    runs: int
    failed: int


def hour_stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H")


def count_run(slot: Mapping[str, Any] | None, stamp: str, state: RunState) -> dict[str, Any]:
    """The slot after one more finished run in the hour ``stamp`` (a stale hour starts over)."""
    same = slot is not None and slot.get("hour") == stamp
    runs = int(slot.get("runs", 0)) if same and slot else 0
    failed = int(slot.get("failed", 0)) if same and slot else 0
    return {"hour": stamp, "runs": runs + 1, "failed": failed + (1 if state is RunState.FAILED else 0)}


def last_day(slots: Iterable[Mapping[str, Any]], now: datetime) -> list[Hour]:
    """The 24 hours ending with the current one; slots outside them are ignored."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = [first + timedelta(hours=i) for i in range(24)]
    by_stamp = {str(s.get("hour")): s for s in slots}
    return [Hour(h, int(by_stamp.get(hour_stamp(h), {}).get("runs", 0)),
                 int(by_stamp.get(hour_stamp(h), {}).get("failed", 0))) for h in hours]


async def record(store: DocumentStore, summary: RunSummary, now: datetime) -> None:
    """Count one finished run (read-modify-write with If-Match; a lost race retries).

    Best effort: the chart is a view, so a storage failure is logged and never fails the run.
    """
    key, stamp = now.strftime("%H"), hour_stamp(now)
    written = _slots(store)
    stored = written.pop(key, None)
    try:
        for attempt in range(_ATTEMPTS):
            if attempt or stored is None:
                stored = await store.get_doc(KIND, key)
            value = count_run(stored.value if stored else None, stamp, summary.state)
            try:
                written[key] = Stored(value, await store.put_doc(KIND, key, value, stored.etag if stored else None))
                return
            except (ConcurrencyConflict, AlreadyExists):
                continue
    except ExsyncError as exc:
        logger.warning("run history not updated: %s", type(exc).__name__)


def _slots(store: DocumentStore) -> dict[str, Stored[dict[str, Any]]]:
    try:
        return _WRITTEN.setdefault(store, {})
    except TypeError:  # a store that cannot be weakly referenced: read before every count
        return {}


async def read_last_day(store: DocumentStore, now: datetime) -> list[Hour]:
    return last_day([stored.value for _, stored in await store.list_docs(KIND)], now)
