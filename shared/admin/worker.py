"""The sync worker: one queue message wakes it up; it syncs what waits for the mailbox.

Rules:
- The unit of work is the mailbox's *waiting request* (:mod:`shared.admin.pending`), not the
  message: the worker takes everything that waits (the union of record types and reasons) and
  the mailbox lease in one conditional write, syncs it, and looks again before it lets the lease
  go -- a request that arrived during the run is run at once, never 10 s later. A message that
  finds nothing waiting ends quietly.
- The write a run makes at its end anyway (the next take, or the last look that lets the lease
  go) also counts the run for the health charts (:mod:`shared.admin.run_history`) and records the
  kept ERP push removals the run acknowledged (:mod:`shared.admin.erp_pushes`).
- A message that cannot take the lease leaves its request waiting, says why in the status
  (another run, or an interrupted run's lease until hh:mm: :mod:`shared.admin.holder`) and comes
  back when the lease ends at the latest (within a second when the holder is letting go,
  :func:`shared.admin.holder.retry_delay`). No request is ever dropped.
- The worker alone writes the mailbox status during a sync, once per run: the outcome (a taken
  request shows as ``running`` meanwhile, and progress is published while a long run works); any
  failure becomes a FAILED run plus a mailbox warning -- never reported as success. It reads the
  status once per lease and writes on top of what it wrote (a 412 reads again).
- Continue on error (policy): when off, a failed mailbox aborts the rest of its run (later
  messages of the same run id are skipped and marked failed).
- Throttling is retried by the queue (the exception propagates, the request waits again); the
  poison handler (:func:`handle_poison`) turns a message that kept failing into a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from shared.admin import erp_feed, erp_pushes, pending, run_history, telemetry
from shared.admin import progress as run_progress
from shared.admin.holder import Held, holder_of, retry_delay, waiting_reason
from shared.admin.lookup import mailbox_context
from shared.admin.pending import Waiting
from shared.admin.queue import SyncRequest
from shared.admin.status import combined, record_outcome, set_last_run, update_status
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import LogEntry, LogLevel, MailboxStatus, RunState, RunSummary
from shared.errors import ExsyncError, NotFound, Throttled
from shared.ports import Stored, SyncJob, SyncOutcome
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

BEAT_SECONDS = 30.0
RUNS_KIND = "runs"
MAX_ROUNDS = 20
"""Runs one lease holder does back to back before it leaves the rest to the next message."""

async def _aborted(rt: Runtime, run_id: str) -> bool:
    doc = await rt.state.get_doc(RUNS_KIND, run_id) if run_id else None
    return bool(doc and doc.value.get("aborted"))


async def _abort(rt: Runtime, run_id: str, email: str) -> None:
    if run_id:
        await rt.state.put_doc(RUNS_KIND, run_id, {"aborted": True, "by": email,
                                                  "at": rt.clock.now().isoformat()}, force=True)


async def _log(rt: Runtime, email: str, level: LogLevel, message: str) -> None:
    await rt.state.append_log(email, [LogEntry(level, rt.clock.now(), message)])


def _beat_seconds(rt: Runtime) -> float:
    return min(BEAT_SECONDS, rt.settings.lease_seconds / 4)


async def process(rt: Runtime, request: SyncRequest, *, owner: str | None = None) -> RunSummary | None:
    """Sync what waits for ``request``'s mailbox; None when nothing ran (unknown, disabled, busy, idle)."""
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
    # only a policy that stops at the first error ever aborts a run (see _finish)
    if not policy.continue_on_error and await _aborted(rt, request.run_id):
        await pending.clear(rt.state, email, rt.clock.now())
        summary = RunSummary(request.run_id, RunState.FAILED, rt.clock.now(), rt.clock.now(),
                             message="skipped: an earlier mailbox of this run failed and the policy "
                                     "does not continue on error")
        await set_last_run(rt.state, email, summary)
        return summary
    admission = await pending.admit(rt.state, email, request.record_types, rt.clock.now(), request.reason,
                                    request.run_id)
    if not admission.run:
        logger.info("sync request %s was already run; message ends", request.run_id)
        return None
    held = await Held.take(rt.state, rt.clock, email, owner, rt.settings.lease_seconds, _beat_seconds(rt),
                           pending.Desk(rt.state, email, admission))
    if held is None:
        await admission.keep_waiting(rt.state, email, rt.clock.now())
        await _wait_for_lease(rt, request)
        return None
    try:
        # the last look is a conditional write: a request that arrived during the run fails it and
        # is run now; one that arrives after it finds no heartbeat and comes back within a second
        return await _drain(rt, held, mailbox, server, policy)
    finally:  # after a failure: let the lease go (the last look already did otherwise)
        await held.release()


async def _drain(rt: Runtime, held: Held, mailbox: Mailbox, server: ServerConfig,
                 policy: SyncPolicy) -> RunSummary | None:
    """Under the lease: take what waits and run it, until nothing waits. The status is read once
    and then written on top of what this lease holder wrote (:func:`write_status`)."""
    last = None
    status: Stored[MailboxStatus] | None = None
    for round_ in range(MAX_ROUNDS):
        # the take of the lease took the first request; after a recorded run, "finished": a run
        # that never got that far (crashed, cancelled, throttled) left its request running, and
        # the next lease holder takes it again
        waiting = held.first if round_ == 0 else await held.desk.take(rt.clock.now(), holder=held.info(),
                                                                       finished=True)
        if waiting is None:
            if last is None:
                logger.info("nothing waits for the mailbox (an earlier run did the work)")
            return last
        if status is None:
            status = await rt.state.get_status(mailbox.email)
        last, status = await _run(rt, held, waiting, mailbox, server, policy, status, before=last)
        if last.state is RunState.FAILED and not policy.continue_on_error:
            await held.desk.finished()
            return last
    await held.desk.finished()
    return last


async def _wait_for_lease(rt: Runtime, request: SyncRequest) -> None:
    """The lease is taken: the request keeps waiting (and says why); the message returns later."""
    email = request.mailbox
    now = rt.clock.now()
    holder = await holder_of(rt.state, email)
    wait = waiting_reason(holder, now, rt.settings.lease_seconds, _beat_seconds(rt))
    await pending.explain(rt.state, email, wait.reason)
    delay = retry_delay(holder, wait, now, request.deferrals, rt.settings.lease_seconds)
    await rt.queue.send(dataclasses.replace(request, deferrals=request.deferrals + 1), delay)
    logger.info("mailbox busy; sync request %s waits (%s), message back in %d s", request.run_id,
                wait.reason, delay)


async def _run(rt: Runtime, held: Held, waiting: Waiting, mailbox: Mailbox, server: ServerConfig,
               policy: SyncPolicy, status: Stored[MailboxStatus] | None, *,
               before: RunSummary | None = None) -> tuple[RunSummary, Stored[MailboxStatus]]:
    """One engine run; its outcome is recorded with the counts of the runs this lease did ``before``
    added in (the status shows the lease's work; telemetry and the run record stay per run).

    The status is not written when the run starts: the taken request shows the run as ``running``
    (:func:`shared.admin.status.shown_last_run`), so a run writes the status once, its outcome."""
    email = mailbox.email
    run_id = waiting.run_id
    started = rt.clock.now()
    logger.info("run %s: syncing a mailbox (%s, types %s)", run_id, ",".join(waiting.reasons) or "-",
                ",".join(t.value for t in waiting.record_types) if waiting.record_types else "all")
    board = run_progress.Board(rt.state, rt.clock, email)
    try:
        async with held.beating(board.publish):
            gateway = await rt.mailbox_gateway(server)
            async with rt.erp_session() as erp:
                await erp_feed.before_run(rt, erp, waiting.reasons, waiting.record_types)
                kept = await erp_pushes.waiting_for(rt.state, email, held.desk)

                async def acknowledge(record_type: RecordType) -> None:
                    await kept.acknowledge(rt.state, record_type)

                outcome = await rt.engine(SyncJob(
                    mailbox=mailbox, server=server, policy=policy, mailbox_gateway=gateway, erp_gateway=erp,
                    state=rt.state, clock=rt.clock, run_id=run_id, record_types=waiting.record_types,
                    removals=kept.removals, progress=board, type_saved=acknowledge,
                    status=status.value if status else MailboxStatus(email=email), feed=rt.settings.erp_feed))
                kept.settle(held.desk)
    except Throttled:
        telemetry.record_deferred()
        await pending.give_back(rt.state, email, waiting, rt.clock.now())
        await board.clear()
        await set_last_run(rt.state, email, RunSummary(run_id, RunState.QUEUED, started,
                                                       message="throttled; retrying"))
        raise
    except Exception as exc:
        outcome = SyncOutcome(RunSummary(run_id, RunState.FAILED, started, rt.clock.now(),
                                         message=f"{type(exc).__name__}: {exc}"[:500]))
        summary = outcome.summary
        level = LogLevel.ERROR if isinstance(exc, ExsyncError) else LogLevel.CRITICAL
        await pending.reopen(rt.state, email, waiting)
        await _log(rt, email, level, f"run {run_id} failed: {summary.message}")
        logger.exception("run %s: mailbox sync failed", run_id)
    else:
        summary = outcome.summary
    await board.clear()
    if summary.finished_at is None:
        summary = dataclasses.replace(summary, finished_at=rt.clock.now())
        outcome = dataclasses.replace(outcome, summary=summary)
    shown = combined(before, summary) if before is not None else summary
    status = await record_outcome(rt.state, email, dataclasses.replace(outcome, summary=shown), status)
    if summary.state is RunState.FAILED and not policy.continue_on_error:
        await _abort(rt, summary.run_id, email)
    held.desk.stage(run_history.counted(summary.state, rt.clock.now()))  # into the desk's next write
    telemetry.record_run(summary)
    written = sum(c.writes for c in summary.counts.values())
    failed = sum(c.failed for c in summary.counts.values())
    duration = (summary.finished_at - started).total_seconds() if summary.finished_at else 0.0
    # One structured record per run: the infra's per-mailbox alert and workbook query these fields.
    logger.log(logging.ERROR if summary.state is RunState.FAILED else logging.INFO,
               "run %s: %s (%d writes, %d failed)", run_id, summary.state.value, written, failed,
               extra={"event": "exsync.sync.run", "mailbox": email, "outcome": summary.state.value,
                      "written": written, "failed": failed, "duration_seconds": round(duration, 3)})
    return shown, status


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
