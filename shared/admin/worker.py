"""The sync worker: one queue message -> one mailbox synced under a lease.

Rules:
- A per-mailbox lease (LeaseStore) keeps two workers off one mailbox; a crashed worker's lease
  expires after ``EXSYNC_LEASE_SECONDS``. A busy mailbox defers the message (re-queued later).
- The engine writes status dates and log lines; the worker records ``last_run`` (running, then
  the outcome) and turns any failure into a FAILED run plus a mailbox warning — a failure is
  never reported as success.
- Continue on error (policy): when off, a failed mailbox aborts the rest of its run (later
  messages of the same run id are skipped and marked failed).
- Throttling is retried by the queue (the exception propagates); the poison handler
  (:func:`handle_poison`) turns a message that kept failing into a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from shared.admin import pending, run_history, telemetry
from shared.admin.lookup import mailbox_context
from shared.admin.notifications import ERP_PUSH, pending_pushes
from shared.admin.queue import SyncRequest
from shared.admin.status import set_last_run, update_status
from shared.domain.status import LogEntry, LogLevel, RunState, RunSummary
from shared.errors import ExsyncError, NotFound, Throttled
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_DEFERRALS = 10
DEFER_SECONDS = 10
RUNS_KIND = "runs"

SyncFn = Callable[..., Awaitable[RunSummary]]


def _engine(rt: Runtime) -> SyncFn:
    if rt.sync is not None:
        return rt.sync
    from shared.sync.run import sync_mailbox  # type: ignore[import-not-found,unused-ignore]

    return sync_mailbox  # type: ignore[no-any-return]


async def _aborted(rt: Runtime, run_id: str) -> bool:
    doc = await rt.state.get_doc(RUNS_KIND, run_id) if run_id else None
    return bool(doc and doc.value.get("aborted"))


async def _abort(rt: Runtime, run_id: str, email: str) -> None:
    if run_id:
        await rt.state.put_doc(RUNS_KIND, run_id, {"aborted": True, "by": email,
                                                  "at": rt.clock.now().isoformat()}, force=True)


async def _log(rt: Runtime, email: str, level: LogLevel, message: str) -> None:
    await rt.state.append_log(email, [LogEntry(level, rt.clock.now(), message)])


async def process(rt: Runtime, request: SyncRequest, *, owner: str | None = None) -> RunSummary | None:
    """Sync one mailbox for ``request``; None when nothing ran (unknown, disabled, busy, aborted)."""
    owner = owner or uuid.uuid4().hex
    email = request.mailbox
    try:
        mailbox, server, policy = await mailbox_context(rt.state, email)
    except NotFound as exc:
        logger.warning("sync request %s dropped: %s", request.run_id, exc)
        return None
    if not mailbox.sync or not server.is_active:
        logger.info("sync request %s skipped: mailbox or server disabled", request.run_id)
        return None
    if await _aborted(rt, request.run_id):
        await pending.clear(rt.state, email)
        summary = RunSummary(request.run_id, RunState.FAILED, rt.clock.now(), rt.clock.now(),
                             message="skipped: an earlier mailbox of this run failed and the policy "
                                     "does not continue on error")
        await set_last_run(rt.state, email, summary)
        return summary
    key = f"mailbox:{email}"
    if not await rt.state.acquire_lease(key, owner, rt.settings.lease_seconds):
        if request.deferrals < MAX_DEFERRALS:
            await pending.mark(rt.state, email, request.record_types, rt.clock.now())  # still waiting
            await rt.queue.send(dataclasses.replace(request, deferrals=request.deferrals + 1), DEFER_SECONDS)
            logger.info("mailbox busy; sync request %s deferred", request.run_id)
        else:
            logger.warning("mailbox busy; sync request %s dropped after %d deferrals", request.run_id,
                           request.deferrals)
        return None
    try:
        await pending.clear(rt.state, email)  # changes from now on need a new request
        return await _run(rt, request, mailbox, server, policy)
    finally:
        await rt.state.release_lease(key, owner)


async def _feed_pushes(rt: Runtime, email: str, erp: Any) -> list[str]:
    """Give the ERP gateway the push notifications stored for this mailbox; their keys."""
    ingest = getattr(erp, "ingest_push", None)
    if ingest is None:
        return []
    keys = []
    for key, body in await pending_pushes(rt, email):
        try:
            ingest(body)
        except ExsyncError:
            logger.warning("stored ERP push notification unreadable; dropped")
        keys.append(key)
    return keys


async def _run(rt: Runtime, request: SyncRequest, mailbox: Any, server: Any, policy: Any) -> RunSummary:
    email = mailbox.email
    started = rt.clock.now()
    await set_last_run(rt.state, email, RunSummary(request.run_id, RunState.RUNNING, started))
    logger.info("run %s: syncing a mailbox (%s, types %s)", request.run_id, request.reason,
                ",".join(t.value for t in request.record_types) if request.record_types else "all")
    try:
        gateway = await rt.mailbox_gateway(server)
        erp = await rt.erp_gateway()
        pushes = await _feed_pushes(rt, email, erp)
        try:
            summary = await _engine(rt)(
                mailbox=mailbox, server=server, policy=policy, mailbox_gateway=gateway, erp_gateway=erp,
                state=rt.state, clock=rt.clock, run_id=request.run_id,
                record_types=request.record_types)
        finally:
            await erp.aclose()
    except Throttled:
        telemetry.record_throttled("run")
        await set_last_run(rt.state, email, RunSummary(request.run_id, RunState.QUEUED, started,
                                                       message="throttled; retrying"))
        raise
    except Exception as exc:
        summary = RunSummary(request.run_id, RunState.FAILED, started, rt.clock.now(),
                             message=f"{type(exc).__name__}: {exc}"[:500])
        level = LogLevel.ERROR if isinstance(exc, ExsyncError) else LogLevel.CRITICAL
        await _log(rt, email, level, f"run {request.run_id} failed: {summary.message}")
        logger.exception("run %s: mailbox sync failed", request.run_id)
    else:
        if summary.state is not RunState.FAILED:
            for key in pushes:
                await rt.state.delete_doc(ERP_PUSH, key)
    if summary.finished_at is None:
        summary = dataclasses.replace(summary, finished_at=rt.clock.now())
    await _finish(rt, email, summary, continue_on_error=policy.continue_on_error)
    await run_history.record(rt.state, summary, rt.clock.now())
    telemetry.record_run(summary)
    written = sum(c.writes for c in summary.counts.values())
    failed = sum(c.failed for c in summary.counts.values())
    duration = (summary.finished_at - started).total_seconds() if summary.finished_at else 0.0
    # One structured record per run: the infra's per-mailbox alert and workbook query these fields.
    logger.log(logging.ERROR if summary.state is RunState.FAILED else logging.INFO,
               "run %s: %s (%d writes, %d failed)", request.run_id, summary.state.value, written, failed,
               extra={"event": "exsync.sync.run", "mailbox": email, "outcome": summary.state.value,
                      "written": written, "failed": failed, "duration_seconds": round(duration, 3)})
    return summary


async def _finish(rt: Runtime, email: str, summary: RunSummary, *, continue_on_error: bool) -> None:
    warning = None
    if summary.state is RunState.FAILED:
        warning = f"last run failed: {summary.message}"
    elif summary.state is RunState.WARNING:
        warning = f"last run finished with warnings: {summary.message}"

    def change(status: Any) -> Any:
        return dataclasses.replace(status, last_run=summary,
                                   warning=warning if warning is not None else status.warning)

    await update_status(rt.state, email, change)
    if summary.state is RunState.FAILED and not continue_on_error:
        await _abort(rt, summary.run_id, email)


async def handle_poison(rt: Runtime, body: bytes | str) -> None:
    """A message that failed every retry: mark the mailbox's run failed and raise a warning."""
    try:
        request = SyncRequest.decode(body)
    except ExsyncError:
        logger.error("unreadable poison message dropped")
        return
    if await rt.state.get_mailbox(request.mailbox) is None:
        return
    await pending.clear(rt.state, request.mailbox)
    now = rt.clock.now()
    summary = RunSummary(request.run_id, RunState.FAILED, now, now,
                         message="sync failed on every retry (poison message); see the log")

    def change(status: Any) -> Any:
        return dataclasses.replace(status, last_run=summary,
                                   warning="sync request failed repeatedly and was set aside; check the "
                                           "log, fix the cause, then reset the warning and sync again")

    await update_status(rt.state, request.mailbox, change)
    await _log(rt, request.mailbox, LogLevel.ERROR, f"run {request.run_id}: message moved to poison queue")
    logger.error("run %s: sync request set aside as poison", request.run_id,
                 extra={"event": "exsync.sync.poison", "mailbox": request.mailbox})
    telemetry.record_run(summary)
