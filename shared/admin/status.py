"""Reading and updating a mailbox's status record (last run, warning) with optimistic concurrency.

The worker is the status's only writer during a sync (:func:`record_outcome` turns the engine's
outcome into dates, warning and last run); the admin API resets dates and warnings.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from shared.admin import pending, progress
from shared.domain.status import MailboxStatus, RunState, RunSummary
from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.ports import DocumentStore, StatusStore, Stored, SyncOutcome

logger = logging.getLogger(__name__)

_ATTEMPTS = 5


async def update_status(store: StatusStore, email: str,
                        change: Callable[[MailboxStatus], MailboxStatus]) -> MailboxStatus:
    """Read-modify-write the status with If-Match, retrying when someone else wrote in between."""
    return (await write_status(store, email, change)).value


async def write_status(store: StatusStore, email: str, change: Callable[[MailboxStatus], MailboxStatus],
                       known: Stored[MailboxStatus] | None = None) -> Stored[MailboxStatus]:
    """:func:`update_status` starting from ``known`` (the status as the caller last read or wrote
    it: one conditional write when nobody wrote since; a 412 reads again). The status as written."""
    stored = known
    for attempt in range(_ATTEMPTS):
        if attempt or stored is None:
            stored = await store.get_status(email)
        current = stored.value if stored else MailboxStatus(email=email)
        updated = change(current)
        try:
            return Stored(updated, await store.put_status(updated, stored.etag if stored else None))
        except (ConcurrencyConflict, AlreadyExists):  # someone wrote (or created) it in between
            continue
    stored = await store.get_status(email)
    updated = change(stored.value if stored else MailboxStatus(email=email))
    return Stored(updated, await store.put_status(updated, force=True))


async def set_last_run(store: StatusStore, email: str, run: RunSummary) -> MailboxStatus:
    return await update_status(store, email, lambda s: dataclasses.replace(s, last_run=run))


async def set_warning(store: StatusStore, email: str, warning: str | None) -> MailboxStatus:
    return await update_status(store, email, lambda s: dataclasses.replace(s, warning=warning))


def warning_after(summary: RunSummary) -> str | None:
    """The mailbox warning a finished run leaves (None: keep the current one)."""
    if summary.state is RunState.FAILED:
        return f"last run failed: {summary.message}"
    if summary.state is RunState.WARNING:
        return f"last run finished with warnings: {summary.message}"
    return None


_SEVERITY = {RunState.SUCCEEDED: 0, RunState.WARNING: 1, RunState.FAILED: 2}


def combined(earlier: RunSummary, later: RunSummary) -> RunSummary:
    """Runs one lease holder did back to back, shown as one last run: the later run (its id, start
    and end) with the earlier runs' counts added in, the worse state and both messages."""
    counts = dict(earlier.counts)
    for key, count in later.counts.items():
        counts[key] = counts[key] + count if key in counts else count
    state = max((earlier.state, later.state), key=lambda s: _SEVERITY.get(s, 0))
    message = "; ".join(dict.fromkeys(m for m in (earlier.message, later.message) if m))
    return RunSummary(later.run_id, state, later.started_at, later.finished_at, counts, message)


def apply_outcome(status: MailboxStatus, outcome: SyncOutcome) -> MailboxStatus:
    """The status after a run: its dates merged in (shown and the engine's own), its warning (if
    any), it as the last run."""
    warning = warning_after(outcome.summary)
    return dataclasses.replace(status, export_dates={**status.export_dates, **outcome.export_dates},
                               import_dates={**status.import_dates, **outcome.import_dates},
                               engine_export_dates={**status.engine_export_dates, **outcome.export_dates},
                               engine_import_dates={**status.engine_import_dates, **outcome.import_dates},
                               warning=warning if warning is not None else status.warning,
                               last_run=outcome.summary)


async def record_outcome(store: StatusStore, email: str, outcome: SyncOutcome,
                         known: Stored[MailboxStatus] | None = None) -> Stored[MailboxStatus]:
    """Write a run's outcome into the mailbox status (the one place a sync writes it)."""
    return await write_status(store, email, lambda status: apply_outcome(status, outcome), known)


def run_to_json(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "state": run.state.value,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": {k: dataclasses.asdict(v) for k, v in sorted(run.counts.items())},
        "message": run.message,
    }


def status_to_json(status: MailboxStatus) -> dict[str, Any]:
    return {
        "email": status.email,
        "export_dates": {t.value: d.isoformat() for t, d in sorted(status.export_dates.items())},
        "import_dates": {t.value: d.isoformat() for t, d in sorted(status.import_dates.items())},
        "warning": status.warning,
        "last_run": run_to_json(status.last_run) if status.last_run else None,
    }


async def live_status(store: DocumentStore, email: str) -> dict[str, Any]:
    """The status fields of work in flight: ``pending`` (what waits), ``waiting`` (why it still
    waits, None when it is simply queued) and ``progress`` (of the run working now, or None)."""
    waiting = await pending.describe(store, email)
    return {"pending": waiting, "waiting": waiting.get("why") if waiting else None,
            "progress": await progress.current(store, email)}


async def shown_last_run(store: DocumentStore, email: str, last_run: dict[str, Any] | None) -> dict[str, Any] | None:
    """The last run as the status API shows it: a request a run has taken shows as ``running``
    even before that run wrote ``running`` into the status (so "nothing waits" never reads as done)."""
    taken = await pending.running_run(store, email)
    if taken is None:
        return last_run
    run_id, at = taken
    if last_run is not None and last_run.get("run_id") == run_id and last_run.get("state") != "queued":
        return last_run  # the run wrote its own state (running, or its outcome)
    return {"run_id": run_id, "state": "running", "started_at": at, "finished_at": None, "counts": {},
            "message": ""}
