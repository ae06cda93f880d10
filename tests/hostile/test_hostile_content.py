"""Hostile record content from either side syncs or is skipped with a log line; a run never crashes and
the state stays readable. The worker runs the real engine over the gateway twins, state on Azurite."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from shared.admin.queue import SyncRequest
from shared.domain.config import SyncPolicy
from shared.domain.records import Attendee, Contact, Event, RecordType, Task
from shared.domain.status import LogEntry, RunState
from shared.sync.run import sync
from tests.functions.conftest import Env, queue_message, user_function

ANN = "ann@contoso.com"
TEN_MB = "x" * (10 * 1024 * 1024)
CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
RTL = "\u202egnp.exe\u202c"
EMOJI = "🦄 ERP 🇺🇦"
HOSTILE_ID = "AAMk/#?\\{n}%2F..="
START = datetime(2026, 12, 10, 9, tzinfo=UTC)
SKIPPED = re.compile(r"skipped [1-9]|skipped:", re.IGNORECASE)


def accounted_for(email: str, synced: bool, log: list[str]) -> bool:
    """Synced to both sides, or a log line names the record or counts a skipped one."""
    return synced or any(email in line or SKIPPED.search(line) for line in log)


async def _run(env: Env, run_id: str) -> None:
    await user_function("sync_worker")(queue_message(SyncRequest(ANN, run_id)))


async def _log(env: Env) -> list[str]:
    page = await env.store.list_log(ANN, None, 1000, None)
    return [e.message for e in page.items if isinstance(e, LogEntry)]


async def test_hostile_records_from_both_sides_sync_or_are_skipped_with_a_log_line(env: Env) -> None:
    env.rt.engine = sync  # the real engine
    counter = itertools.count(1)
    env.graph._new_id = lambda: HOSTILE_ID.format(n=next(counter))  # type: ignore[method-assign]
    policy = SyncPolicy(name="p", contacts={"sync_without_category": True},
                        events={"sync_without_category": True}, tasks={"sync_without_category": True},
                        emails={"enabled": False})
    await env.seed(ANN, policy=policy)  # employee id EP0000
    erp_side = {
        "huge@example.com": Contact(first_name="Huge", last_name="Notes", email="huge@example.com", notes=TEN_MB),
        "ctrl@example.com": Contact(first_name=f"Ctl{CONTROL}", last_name="Chars", email="ctrl@example.com"),
        "rtl@example.com": Contact(first_name=RTL, last_name=f"x{RTL}", email="rtl@example.com",
                                   company="Ünïcødé 𝔘 GmbH"),
    }
    for record in erp_side.values():
        env.erp.user_create(RecordType.CONTACT, record, owner="EP0000")
    contacts = await env.graph.ensure_container(ANN, RecordType.CONTACT, None)
    events = await env.graph.ensure_container(ANN, RecordType.EVENT, None)
    tasks = await env.graph.ensure_container(ANN, RecordType.TASK, None)
    crowd = tuple(Attendee(f"guest{i}@example.com", f"Guest {i}") for i in range(5000))
    env.graph.user_create(ANN, RecordType.EVENT, events, Event(
        subject="Town hall", body=TEN_MB, start=START, end=START + timedelta(hours=1), organizer=ANN,
        attendees=crowd))
    env.graph.user_create(ANN, RecordType.CONTACT, contacts, Contact(
        first_name="Emoji", last_name=EMOJI, email="emoji@example.com"), categories=(EMOJI, "ERP", "🔥" * 40))
    env.graph.user_create(ANN, RecordType.TASK, tasks, Task(title=f"Call {RTL}{CONTROL}", body="\x00" * 10))

    await _run(env, "hostile-1")
    first = await env.store.get_status(ANN)
    assert first is not None and first.value.last_run is not None
    assert first.value.last_run.state in (RunState.SUCCEEDED, RunState.WARNING), first.value.last_run.message

    in_mailbox = {i.record.email for i in env.graph.items(ANN, RecordType.CONTACT)}
    in_erp = {i.record.email for i in env.erp.items(RecordType.CONTACT)}
    log = await _log(env)
    for email in [*erp_side, "emoji@example.com"]:
        assert accounted_for(email, email in in_mailbox and email in in_erp, log), (email, log[:20])
    erp_events = env.erp.items(RecordType.EVENT)
    assert len(erp_events) <= 1 and len(env.erp.items(RecordType.TASK)) <= 1

    await _run(env, "hostile-2")  # the state written by the first run reads back; nothing doubles
    second = await env.store.get_status(ANN)
    assert second is not None and second.value.last_run is not None
    assert second.value.last_run.state in (RunState.SUCCEEDED, RunState.WARNING), second.value.last_run.message
    assert {i.record.email for i in env.graph.items(ANN, RecordType.CONTACT)} == in_mailbox
    assert len(env.erp.items(RecordType.CONTACT)) == len(in_erp)
    assert len(env.erp.items(RecordType.EVENT)) == len(erp_events)
    assert all(len(i.record.attendees) <= 5000 for i in env.erp.items(RecordType.EVENT))
