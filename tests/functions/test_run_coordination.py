"""Run coordination: the waiting request is the unit of work; no request is dropped or left behind."""

from __future__ import annotations

from datetime import timedelta

from shared.admin import pending
from shared.admin.enqueue import enqueue_syncs
from shared.admin.holder import waiting_reason
from shared.admin.notifications import ERP_PUSH
from shared.admin.queue import SyncRequest
from shared.admin.status import live_status
from shared.domain.records import RecordType
from shared.domain.status import RunState
from shared.errors import RemoteError
from shared.runtime import ErpSessionPool
from tests.functions.conftest import Env, queue_message, user_function
from tests.functions.holders import hold, let_go
from tests.functions.holders import holder as live_holder

ANN = "ann@contoso.com"


async def _mailbox(env: Env):  # type: ignore[no-untyped-def]
    await env.seed(ANN)
    stored = await env.store.get_mailbox(ANN)
    assert stored is not None
    return stored.value


async def _deliver_all(env: Env) -> None:
    for message in await env.messages():
        await user_function("sync_worker")(queue_message(message))


async def test_a_run_takes_the_union_of_what_waits_and_later_messages_end_quietly(env: Env) -> None:
    mailbox = await _mailbox(env)
    await enqueue_syncs(env.rt, [mailbox], reason="erp", record_types=(RecordType.CONTACT,), coalesce=True)
    manual = await enqueue_syncs(env.rt, [mailbox], reason="manual")
    await _deliver_all(env)  # the contact-only message comes first and runs everything
    assert [c["record_types"] for c in env.engine.calls] == [None]
    assert env.engine.calls[0]["run_id"] == manual
    live = await live_status(env.store, ANN)
    assert live == {"pending": None, "waiting": None, "progress": None}
    stored = await env.store.get_status(ANN)
    assert stored is not None and stored.value.last_run is not None
    assert (stored.value.last_run.run_id, stored.value.last_run.state) == (manual, RunState.SUCCEEDED)


async def test_a_request_arriving_during_a_run_is_run_before_the_lease_goes(env: Env) -> None:
    mailbox = await _mailbox(env)

    async def request_during_the_first_run(kwargs):  # type: ignore[no-untyped-def]
        if len(env.engine.calls) == 1:
            await enqueue_syncs(env.rt, [mailbox], reason="manual", record_types=(RecordType.TASK,))

    env.engine.hook = request_during_the_first_run
    await enqueue_syncs(env.rt, [mailbox], reason="erp", record_types=(RecordType.CONTACT,))
    [first] = await env.messages()
    await user_function("sync_worker")(queue_message(first))
    assert [c["record_types"] for c in env.engine.calls] == [(RecordType.CONTACT,), (RecordType.TASK,)]
    await _deliver_all(env)  # the manual request's own message finds its work done
    assert len(env.engine.calls) == 2
    assert (await live_status(env.store, ANN))["pending"] is None


async def test_a_busy_mailbox_keeps_the_request_waiting_and_says_why(env: Env) -> None:
    await _mailbox(env)
    await hold(env.store, ANN, "someone", env.clock.now() + timedelta(seconds=600), env.clock.now())
    request = SyncRequest(ANN, "run-busy", "manual", deferrals=99)  # however often it was deferred
    await user_function("sync_worker")(queue_message(request))
    assert env.engine.calls == []
    live = await live_status(env.store, ANN)
    assert live["pending"] is not None and live["waiting"].startswith("another run holds the mailbox until")
    props = await env.queue_client.get_queue_properties()
    assert props.approximate_message_count == 1  # the message comes back; nothing is dropped

    # the holder stopped beating (its process died): the status names the interrupted run's lease
    stale = env.clock.now() - timedelta(minutes=5)
    assert await pending.beat(env.store, ANN, {"owner": "someone", "beat": stale.isoformat(),
                                               "until": (stale + timedelta(minutes=11)).isoformat()})
    await user_function("sync_worker")(queue_message(request))
    live = await live_status(env.store, ANN)
    assert live["waiting"] == "waiting for an interrupted run's lease (until 08:06 UTC)"

    # the lease ends: the next delivery runs the request, lets the lease go, and nothing waits any more
    await let_go(env.store, ANN)
    await user_function("sync_worker")(queue_message(request))
    assert [c["run_id"] for c in env.engine.calls] == ["run-busy"]
    assert await live_status(env.store, ANN) == {"pending": None, "waiting": None, "progress": None}
    assert await pending.holder_of(env.store, ANN) is None


def test_waiting_reason_table() -> None:
    from datetime import UTC, datetime
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def holder(beat_ago: float, until_in: float) -> dict[str, str]:
        return {"owner": "w", "beat": (now - timedelta(seconds=beat_ago)).isoformat(),
                "until": (now + timedelta(seconds=until_in)).isoformat()}

    cases = [  # holder document, expected text
        (None, "another run holds the mailbox until 08:11 UTC"),
        (holder(10, 600), "another run holds the mailbox until 08:10 UTC"),
        (holder(89, 60), "another run holds the mailbox until 08:01 UTC"),
        (holder(91, 60), "waiting for an interrupted run's lease (until 08:01 UTC)"),
        (holder(3600, -60), "waiting for an interrupted run's lease (until 07:59 UTC)"),
    ]
    for doc, expected in cases:
        assert waiting_reason(doc, now, 660, 30).reason == expected, doc


async def test_a_stored_push_read_that_fails_once_fails_the_run_and_the_next_run_succeeds(env: Env) -> None:
    """One ERP session per process (EXSYNC_ERP_MAX_SESSIONS=1): a failure must not keep it."""
    from shared.admin import erp_pushes
    from shared.erp.push import parse_push

    await _mailbox(env)
    await erp_pushes.keep(env.store, [ANN], parse_push({  # a kept removal: the run lists them
        "Query": "Task", "Id": "tx-1", "TimeStamp": 1, "Inserted": [],
        "Deleted": [{"NoteID": {"value": "cd34"}, "Owner": {"value": "EP0000"}}]}))
    pool = ErpSessionPool(1, object, lambda session: env.erp)  # type: ignore[arg-type,return-value]
    env.rt.erp_gateway = pool.gateway
    env.rt.erp_wait_seconds = 5
    read = env.store.list_docs
    failures: list[str] = []

    async def fails_once(kind: str, prefix: str = ""):  # type: ignore[no-untyped-def]
        if kind == ERP_PUSH and not failures:
            failures.append(kind)
            raise RemoteError("Table Storage answered 503", status=503)
        return await read(kind, prefix)

    env.store.list_docs = fails_once  # type: ignore[method-assign]
    await user_function("sync_worker")(queue_message(SyncRequest(ANN, "run-a", "manual")))
    stored = await env.store.get_status(ANN)
    assert stored is not None and stored.value.last_run is not None
    assert stored.value.last_run.state is RunState.FAILED and "503" in stored.value.last_run.message
    assert stored.value.warning and "failed" in stored.value.warning
    assert env.engine.calls == []

    await user_function("sync_worker")(queue_message(SyncRequest(ANN, "run-b", "manual")))
    stored = await env.store.get_status(ANN)
    assert stored is not None and stored.value.last_run is not None
    assert (stored.value.last_run.run_id, stored.value.last_run.state) == ("run-b", RunState.SUCCEEDED)
    assert [c["run_id"] for c in env.engine.calls] == ["run-b"] and pool.sessions == 1  # reused


async def test_a_request_taken_by_a_run_that_crashed_is_run_by_the_next_lease_holder(env: Env) -> None:
    """The host died mid-run: its message comes back, finds the dead run's lease, then runs the work."""
    from shared.admin.holder import Held

    mailbox = await _mailbox(env)
    run_id = await enqueue_syncs(env.rt, [mailbox], reason="manual", record_types=(RecordType.TASK,))
    [message] = await env.messages()
    crashed = await Held.take(env.store, env.clock, ANN, "dead-worker", 300, 30)
    assert crashed is not None and crashed.first is not None  # the lease and the request, taken at once
    # ... and the process dies here: no outcome, no release. Its message is delivered again:
    env.clock.current += timedelta(seconds=100)  # heartbeats stopped
    await user_function("sync_worker")(queue_message(message))
    assert env.engine.calls == []
    props = await env.queue_client.get_queue_properties()
    assert props.approximate_message_count == 1  # back when the dead run's lease ends
    await env.messages()
    # a new request arrives while the dead run's lease is held: it waits, and the status says why
    manual = await enqueue_syncs(env.rt, [mailbox], reason="manual", record_types=(RecordType.CONTACT,))
    [new] = await env.messages()
    await user_function("sync_worker")(queue_message(new))
    live = await live_status(env.store, ANN)
    assert live["waiting"] == "waiting for an interrupted run's lease (until 08:05 UTC)"
    env.clock.current += timedelta(seconds=250)  # the lease has expired
    await user_function("sync_worker")(queue_message(new))
    assert [(c["run_id"], c["record_types"]) for c in env.engine.calls] == [
        (manual, (RecordType.CONTACT, RecordType.TASK))]  # the dead run's work and the new request
    for again in (message, new):  # both messages once more: the work is done
        await user_function("sync_worker")(queue_message(again))
    assert len(env.engine.calls) == 1 and run_id != manual


async def test_progress_is_published_while_a_long_pass_works_and_gone_after(env: Env) -> None:
    from shared.admin import progress

    await _mailbox(env)
    board = progress.Board(env.store, env.clock, ANN)
    board("contact.erp", 50)
    await board.publish()
    assert await progress.current(env.store, ANN) is None  # one page: too short to show
    board("contact.erp", 100)
    await board.publish()
    shown = await progress.current(env.store, ANN)
    assert shown is not None and {k: shown[k] for k in ("record_type", "direction", "done", "total")} == {
        "record_type": "contact", "direction": "export", "done": 100, "total": None}
    board("task.mailbox", 7)
    env.clock.current += timedelta(seconds=progress.QUIET_SECONDS)  # a long first page of another pass
    await board.publish()
    live = await live_status(env.store, ANN)
    assert live["progress"] is not None and (live["progress"]["direction"], live["progress"]["done"]) == (
        "import", 7)
    await board.clear()
    assert (await live_status(env.store, ANN))["progress"] is None


async def test_a_taken_request_shows_as_running_before_the_run_writes_its_state(env: Env) -> None:
    """Between "taken" and the run's own "running" the status must not read as idle and done."""
    from tests.functions.conftest import call_http

    mailbox = await _mailbox(env)
    await user_function("sync_worker")(queue_message(SyncRequest(ANN, "run-old", "manual")))
    manual = await enqueue_syncs(env.rt, [mailbox], reason="manual")
    assert await pending.take(env.store, ANN, env.clock.now()) is not None  # a worker took it, just now
    status, body, _ = await call_http("admin_mailboxes_email_status", "GET", f"mailboxes/{ANN}/status",
                                     route={"email": ANN})
    assert status == 200 and body["pending"] is None
    assert (body["last_run"]["run_id"], body["last_run"]["state"]) == (manual, "running")


def test_runs_of_one_lease_combine_into_one_last_run() -> None:
    from datetime import UTC, datetime

    from shared.admin.status import combined
    from shared.domain.status import Counts, RunSummary

    t = [datetime(2026, 11, 20, 8, 0, s, tzinfo=UTC) for s in range(4)]
    ok = RunSummary("a", RunState.SUCCEEDED, t[0], t[1], {"contact.mailbox": Counts(created=5)})
    echo = RunSummary("b", RunState.SUCCEEDED, t[2], t[3], {"contact.erp": Counts(skipped=1)})
    warn = RunSummary("c", RunState.WARNING, t[2], t[3], {"contact.mailbox": Counts(failed=1)}, "1 item failed")
    cases = [  # first, later -> state, counts, message
        (ok, echo, RunState.SUCCEEDED, {"contact.mailbox": Counts(created=5), "contact.erp": Counts(skipped=1)}, ""),
        (ok, warn, RunState.WARNING, {"contact.mailbox": Counts(created=5, failed=1)}, "1 item failed"),
        (warn, ok, RunState.WARNING, {"contact.mailbox": Counts(created=5, failed=1)}, "1 item failed"),
    ]
    for first, later, state, counts, message in cases:
        shown = combined(first, later)
        assert (shown.run_id, shown.started_at, shown.finished_at) == (later.run_id, later.started_at,
                                                                       later.finished_at)
        assert (shown.state, shown.counts, shown.message) == (state, counts, message)


def test_retry_delay_table() -> None:
    from datetime import UTC, datetime

    from shared.admin.holder import DEFER_SECONDS, retry_delay
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    live = {"owner": "w", "beat": now.isoformat(), "until": (now + timedelta(seconds=120)).isoformat()}
    ending = {"owner": "w", "beat": now.isoformat(), "until": (now + timedelta(seconds=3)).isoformat()}
    cases = [  # holder document, deferrals so far, lease seconds -> seconds until the message is back
        (None, 0, 660, 1),        # the holder is letting go (or just took the lease): back at once
        (None, 3, 660, 8),
        (None, 40, 660, 660),     # never longer than a lease
        (live, 0, 660, 121),      # a live run takes the request itself; the message comes back after it
        (ending, 0, 660, DEFER_SECONDS),
        (live, 0, 60, 60),
    ]
    for holder, deferrals, lease, expected in cases:
        wait = waiting_reason(holder, now, lease, 30)
        assert retry_delay(holder, wait, now, deferrals, lease) == expected, (holder, deferrals)


async def test_the_take_after_admit_merges_a_mark_that_landed_in_between(env: Env) -> None:
    """The desk tries the document admit read; a mark written meanwhile fails that write (412)
    and is taken with the message's own request, which was never marked."""
    await _mailbox(env)
    admission = await pending.admit(env.store, ANN, (RecordType.TASK,), env.clock.now(), "manual", "run-own")
    assert admission.run and admission.unmarked is not None
    await pending.mark(env.store, ANN, (RecordType.CONTACT,), env.clock.now(), "graph", "run-push")
    desk = pending.Desk(env.store, ANN, admission)
    waiting = await desk.take(env.clock.now())
    assert waiting is not None
    assert (waiting.record_types, set(waiting.run_ids)) == ((RecordType.CONTACT, RecordType.TASK),
                                                            {"run-own", "run-push"})
    assert await desk.take(env.clock.now(), finished=True) is None  # the run recorded its outcome
    for run_id in ("run-own", "run-push"):  # both are done: their messages end quietly
        assert not (await pending.admit(env.store, ANN, None, env.clock.now(), "manual", run_id)).run


async def test_two_workers_racing_for_a_mailbox_one_wins_and_runs_the_others_request(env: Env) -> None:
    """A second worker comes while the first holds the lease: its take fails (the holder's
    conditional write is in the way), its request waits, and the holder runs it before it lets go."""
    from shared.admin import worker
    from shared.admin.holder import DEFER_SECONDS

    mailbox = await _mailbox(env)
    sent: list[int] = []
    deferred: list[SyncRequest] = []
    held: list[bool] = []
    send = env.rt.queue.send

    async def record(request: SyncRequest, delay: int = 0) -> None:
        sent.append(delay)
        deferred.append(request)
        await send(request, delay)

    async def a_second_worker_during_the_first_run(kwargs):  # type: ignore[no-untyped-def]
        if len(env.engine.calls) == 1:
            held.append(await live_holder(env.store, ANN, env.clock.now()) is not None)
            await enqueue_syncs(env.rt, [mailbox], reason="graph", record_types=(RecordType.CONTACT,))
            [late] = await env.messages()
            env.rt.queue.send = record  # type: ignore[method-assign]
            assert await worker.process(env.rt, late) is None  # lost the race: defers
            env.rt.queue.send = send  # type: ignore[method-assign]

    env.engine.hook = a_second_worker_during_the_first_run
    await user_function("sync_worker")(queue_message(SyncRequest(ANN, "run-first", "manual")))
    assert held == [True] and len(sent) == 1 and sent[0] >= DEFER_SECONDS
    assert [c["record_types"] for c in env.engine.calls] == [None, (RecordType.CONTACT,)]  # run by the holder
    assert await pending.holder_of(env.store, ANN) is None  # the last look let the lease go
    await user_function("sync_worker")(queue_message(deferred[0]))  # comes back: its work is done
    assert len(env.engine.calls) == 2
    assert (await live_status(env.store, ANN))["pending"] is None


async def test_two_takes_over_the_same_document_exactly_one_wins(env: Env) -> None:
    import asyncio

    from shared.admin.holder import Held

    await _mailbox(env)
    await pending.mark(env.store, ANN, None, env.clock.now(), "manual", "run-x")
    admissions = [await pending.admit(env.store, ANN, None, env.clock.now(), "manual", "run-x") for _ in "ab"]
    taken = await asyncio.gather(*(Held.take(env.store, env.clock, ANN, owner, 300, 30,
                                             pending.Desk(env.store, ANN, admission))
                                   for owner, admission in zip("ab", admissions, strict=True)))
    winners = [h for h in taken if h is not None]
    assert len(winners) == 1 and winners[0].first is not None and winners[0].first.run_ids == ("run-x",)
    live = await live_holder(env.store, ANN, env.clock.now())
    assert live is not None and live["owner"] == winners[0].owner
    # the loser comes again after the lease expired: the interrupted run's request is its own now
    env.clock.current += timedelta(seconds=301)
    late = await Held.take(env.store, env.clock, ANN, "c", 300, 30)
    assert late is not None and late.first is not None and late.first.run_ids == ("run-x",)
    await late.release()
    assert await pending.holder_of(env.store, ANN) is None
    assert (await pending.running_run(env.store, ANN)) is not None  # released, not finished: it runs again


async def test_a_release_after_a_failure_clears_only_its_own_lease(env: Env) -> None:
    from shared.admin.holder import Held

    await _mailbox(env)
    await pending.mark(env.store, ANN, None, env.clock.now(), "manual", "run-y")
    mine = await Held.take(env.store, env.clock, ANN, "mine", 60, 15)
    assert mine is not None
    await mine.beat()  # the heartbeat renews the lease (one write)
    assert (await live_holder(env.store, ANN, env.clock.now()) or {}).get("owner") == "mine"
    env.clock.current += timedelta(seconds=61)  # it stalled: the lease expired and another took over
    other = await Held.take(env.store, env.clock, ANN, "other", 60, 15)
    assert other is not None
    await mine.beat()  # lost: no write
    await mine.release()  # a 412 reads again: the holder is not its own, left alone
    assert (await live_holder(env.store, ANN, env.clock.now()) or {}).get("owner") == "other"
    await other.release()
    assert await pending.holder_of(env.store, ANN) is None


async def test_runs_are_counted_per_mailbox_by_the_write_that_ends_them(env: Env) -> None:
    """No write of its own: the last look (or the next take) counts each run, with the old
    tenant-wide slots still read for the chart."""
    from shared.admin import run_history

    mailbox = await _mailbox(env)
    await env.seed("bob@contoso.com")
    now = env.clock.now()
    stamp = run_history.hour_stamp(now)
    await env.store.put_doc(run_history.KIND, now.strftime("%H"), {"hour": stamp, "runs": 2, "failed": 1})
    puts: list[str] = []
    put = env.store.put_doc

    async def counting(kind: str, key: str, value: dict, etag: str | None = None, *, force: bool = False) -> str:  # type: ignore[type-arg]
        puts.append(kind)
        return await put(kind, key, value, etag, force=force)

    async def request_during_the_first_run(kwargs):  # type: ignore[no-untyped-def]
        if len(env.engine.calls) == 1:
            await enqueue_syncs(env.rt, [mailbox], reason="manual", record_types=(RecordType.TASK,))

    env.store.put_doc = counting  # type: ignore[method-assign]
    env.engine.hook = request_during_the_first_run
    await user_function("sync_worker")(queue_message(SyncRequest(ANN, "run-1", "manual")))  # two runs, one lease
    env.engine.hook = None
    env.engine.fail = RemoteError("boom")
    await user_function("sync_worker")(queue_message(SyncRequest("bob@contoso.com", "run-2", "manual")))
    assert run_history.KIND not in puts and len(env.engine.calls) == 3
    ann = await env.store.get_doc(pending.KIND, ANN)
    assert ann is not None and ann.value["hours"] == {stamp: [2, 0]}
    [hour] = [h for h in await run_history.read_last_day(env.store, now) if h.runs]
    assert (hour.runs, hour.failed) == (2 + 2 + 1, 1 + 1)


async def test_a_release_after_a_412_still_clears_its_own_lease_and_keeps_what_waits(env: Env) -> None:
    from shared.admin.holder import Held

    await _mailbox(env)
    await pending.mark(env.store, ANN, None, env.clock.now(), "manual", "run-z")
    mine = await Held.take(env.store, env.clock, ANN, "mine", 60, 15)
    assert mine is not None and mine.first is not None
    await pending.mark(env.store, ANN, (RecordType.TASK,), env.clock.now(), "graph", "run-late")  # etag moves
    await mine.release()  # the run failed on its way out
    assert await pending.holder_of(env.store, ANN) is None
    assert (await pending.describe(env.store, ANN) or {}).get("types") == ["task"]  # the late request waits
    assert await pending.running_run(env.store, ANN) is not None  # the failed run's request runs again
    again = await Held.take(env.store, env.clock, ANN, "next", 60, 15)
    assert again is not None and again.first is not None
    assert set(again.first.run_ids) == {"run-z", "run-late"}
