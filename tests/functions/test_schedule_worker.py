"""Schedule timer, sync worker and poison handler, called as user functions against Azurite."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from shared.admin.holder import DEFER_SECONDS
from shared.admin.queue import SyncRequest
from shared.domain.config import ServerConfig, SyncPolicy
from shared.domain.status import RunState
from shared.errors import RemoteError
from tests.functions.conftest import Env, queue_message, timer, user_function
from tests.functions.holders import hold, holder


async def _status(env: Env, email: str):  # type: ignore[no-untyped-def]
    stored = await env.store.get_status(email)
    assert stored is not None
    return stored.value


async def test_schedule_fans_out_due_mailboxes_once_per_schedule_slot(env: Env) -> None:
    await env.seed("a@contoso.com", "b@contoso.com", "c@contoso.com",
                   server=ServerConfig(name="main", accounts_in_batch=2, schedule="0 */10 * * * *"))
    await env.store.put_server(ServerConfig(name="off", is_active=False), force=True)
    await user_function("schedule")(timer())
    first = await env.messages()
    assert sorted(m.mailbox for m in first) == ["a@contoso.com", "b@contoso.com", "c@contoso.com"]
    assert {m.reason for m in first} == {"schedule"} and len({m.run_id for m in first}) == 1
    assert (await _status(env, "a@contoso.com")).last_run.state is RunState.QUEUED

    env.clock.current += timedelta(minutes=5)  # 08:05: the 10-minute schedule has not fired again
    await user_function("schedule")(timer())
    assert await env.messages() == []

    env.clock.current += timedelta(minutes=5, seconds=30)  # 08:10:33: fired, but the runs are still queued
    await user_function("schedule")(timer())
    assert await env.messages() == []

    await user_function("sync_worker")(queue_message(first[0]))  # one mailbox finishes
    env.clock.current += timedelta(minutes=10)  # 08:20:33: b and c queued for longer than a lease: lost,
    await user_function("schedule")(timer())    # so they are queued again along with the finished a
    assert sorted(m.mailbox for m in await env.messages()) == ["a@contoso.com", "b@contoso.com", "c@contoso.com"]


async def test_schedule_groups_by_accounts_in_batch(env: Env) -> None:
    from shared.admin.schedule import group_delay

    delay = group_delay(2, 60)
    assert [delay(i) for i in range(5)] == [0, 0, 60, 60, 120]


async def test_worker_runs_engine_under_lease_and_records_outcome(env: Env) -> None:
    await env.seed("ann@contoso.com", policy=SyncPolicy(name="p1"))
    seen_lease: list[bool] = []

    async def hook(kwargs):  # type: ignore[no-untyped-def]
        seen_lease.append(await holder(env.store, "ann@contoso.com", env.clock.now()) is not None)

    env.engine.hook = hook
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-1", "manual")))
    assert len(env.engine.calls) == 1
    call = env.engine.calls[0]
    assert call["mailbox"].email == "ann@contoso.com" and call["policy"].name == "p1"
    assert call["run_id"] == "run-1" and call["state"] is env.store
    assert seen_lease == [True]  # held during the run
    assert await holder(env.store, "ann@contoso.com", env.clock.now()) is None  # released after
    status = await _status(env, "ann@contoso.com")
    assert status.last_run.state is RunState.SUCCEEDED and status.last_run.counts["contact.mailbox"].created == 2
    assert status.warning is None


async def test_worker_failure_is_failed_with_warning_and_log(env: Env) -> None:
    await env.seed("ann@contoso.com")
    env.engine.fail = RemoteError("ERP answered 500", status=500)
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-2")))
    status = await _status(env, "ann@contoso.com")
    assert status.last_run.state is RunState.FAILED and "ERP answered 500" in status.last_run.message
    assert status.warning and "failed" in status.warning
    log = await env.store.list_log("ann@contoso.com", None, 10, None)
    assert any("run-2 failed" in e.message for e in log.items)  # type: ignore[union-attr]


async def test_worker_warning_state_is_not_success(env: Env) -> None:
    await env.seed("ann@contoso.com")
    env.engine.state = RunState.WARNING
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-3")))
    status = await _status(env, "ann@contoso.com")
    assert status.last_run.state is RunState.WARNING and status.warning


async def test_busy_mailbox_defers_the_message(env: Env) -> None:
    await env.seed("ann@contoso.com")
    await hold(env.store, "ann@contoso.com", "someone", env.clock.now() + timedelta(seconds=600))
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-4")))
    assert env.engine.calls == []
    # The deferred message is hidden for DEFER_SECONDS; peek at the queue's count instead of waiting.
    props = await env.queue_client.get_queue_properties()
    assert props.approximate_message_count == 1 and DEFER_SECONDS > 0


async def test_continue_on_error_off_aborts_the_rest_of_the_run(env: Env) -> None:
    await env.seed("a@contoso.com", "b@contoso.com", policy=SyncPolicy(name="strict", continue_on_error=False))
    env.engine.fail = RemoteError("boom")
    await user_function("sync_worker")(queue_message(SyncRequest("a@contoso.com", "run-5")))
    env.engine.fail = None
    await user_function("sync_worker")(queue_message(SyncRequest("b@contoso.com", "run-5")))
    assert [c["mailbox"].email for c in env.engine.calls] == ["a@contoso.com"]
    b = await _status(env, "b@contoso.com")
    assert b.last_run.state is RunState.FAILED and "earlier mailbox" in b.last_run.message
    # another run is not affected
    await user_function("sync_worker")(queue_message(SyncRequest("b@contoso.com", "run-6")))
    assert (await _status(env, "b@contoso.com")).last_run.state is RunState.SUCCEEDED


async def test_continue_on_error_on_keeps_other_mailboxes_running(env: Env) -> None:
    await env.seed("a@contoso.com", "b@contoso.com")
    env.engine.fail = RemoteError("boom")
    await user_function("sync_worker")(queue_message(SyncRequest("a@contoso.com", "run-7")))
    env.engine.fail = None
    await user_function("sync_worker")(queue_message(SyncRequest("b@contoso.com", "run-7")))
    assert (await _status(env, "a@contoso.com")).last_run.state is RunState.FAILED
    assert (await _status(env, "b@contoso.com")).last_run.state is RunState.SUCCEEDED


async def test_poison_message_becomes_a_mailbox_warning(env: Env) -> None:
    await env.seed("ann@contoso.com")
    await user_function("sync_poison")(queue_message(SyncRequest("ann@contoso.com", "run-8"), dequeue_count=5))
    status = await _status(env, "ann@contoso.com")
    assert status.last_run.state is RunState.FAILED and "poison" in status.last_run.message
    assert status.warning and "repeatedly" in status.warning


async def test_unknown_mailbox_and_unreadable_messages_are_dropped(env: Env) -> None:
    await user_function("sync_worker")(queue_message(SyncRequest("ghost@contoso.com", "run-9")))
    await user_function("sync_worker")(queue_message(b"not json"))
    assert env.engine.calls == []


async def test_housekeeping_purges_old_log_entries(env: Env) -> None:
    from shared.domain.status import LogEntry, LogLevel

    await env.seed("ann@contoso.com")
    now = env.clock.now()
    await env.store.append_log("ann@contoso.com", [LogEntry(LogLevel.ERROR, now - timedelta(days=40), "old"),
                                                   LogEntry(LogLevel.ERROR, now, "new")])
    await env.store.put_doc("runs", "old-run", {"aborted": True, "at": (now - timedelta(days=3)).isoformat()})
    assert await env.store.acquire_lease("intake:crashed@contoso.com", "dead-worker", 60)
    assert await env.store.acquire_lease("intake:ann@contoso.com", "live-worker", 3600)
    env.clock.current += timedelta(minutes=2)
    await user_function("housekeeping")(timer())
    page = await env.store.list_log("ann@contoso.com", None, 10, None)
    assert [e.message for e in page.items] == ["new"]  # type: ignore[union-attr]
    assert await env.store.get_doc("runs", "old-run") is None
    assert await env.store.purge_leases() == 0  # the expired lease row is already gone
    assert not await env.store.acquire_lease("intake:ann@contoso.com", "other", 60)  # the live one stays


async def test_waiting_targeted_sync_does_not_stop_the_scheduled_one(env: Env) -> None:
    from shared.admin.api import enqueue_syncs
    from shared.domain.records import RecordType

    await env.seed("ann@contoso.com")
    stored = await env.store.get_mailbox("ann@contoso.com")
    assert stored is not None
    await enqueue_syncs(env.rt, [stored.value], reason="erp", record_types=(RecordType.TASK,), coalesce=True)
    await user_function("schedule")(timer())
    messages = await env.messages()
    assert [(m.reason, m.record_types) for m in messages] == [("erp", (RecordType.TASK,)), ("schedule", None)]
    # and while the full sync waits, notifications add nothing
    await enqueue_syncs(env.rt, [stored.value], reason="graph", record_types=(RecordType.EMAIL,), coalesce=True)
    assert await env.messages() == []


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


async def test_each_run_emits_one_structured_outcome_record(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """The per-mailbox alert rule and the workbook read these fields (infra/modules/alerts.bicep)."""
    await env.seed("ann@contoso.com", "bob@contoso.com")
    caplog.set_level(logging.INFO, logger="shared.admin.worker")
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-10")))
    env.engine.fail = RemoteError("ERP answered 500", status=500)
    await user_function("sync_worker")(queue_message(SyncRequest("bob@contoso.com", "run-10")))
    runs = {r.mailbox: r for r in _events(caplog, "exsync.sync.run")}  # type: ignore[attr-defined]
    assert set(runs) == {"ann@contoso.com", "bob@contoso.com"}
    ok, failed = runs["ann@contoso.com"], runs["bob@contoso.com"]
    recorded = (await _status(env, "ann@contoso.com")).last_run.counts.values()
    assert ok.written == sum(c.writes for c in recorded) > 0  # type: ignore[attr-defined]
    assert (ok.outcome, ok.failed, ok.levelno) == ("succeeded", 0, logging.INFO)  # type: ignore[attr-defined]
    assert (failed.outcome, failed.levelno) == ("failed", logging.ERROR)  # type: ignore[attr-defined]
    assert ok.duration_seconds >= 0  # type: ignore[attr-defined]


async def test_poison_emits_a_structured_record(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    await env.seed("ann@contoso.com")
    caplog.set_level(logging.INFO, logger="shared.admin.worker")
    await user_function("sync_poison")(queue_message(SyncRequest("ann@contoso.com", "run-11"), dequeue_count=5))
    [record] = _events(caplog, "exsync.sync.poison")
    assert record.mailbox == "ann@contoso.com" and record.levelno == logging.ERROR  # type: ignore[attr-defined]
