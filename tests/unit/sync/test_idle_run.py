"""An idle run reads the cursor book and nothing else of the engine's state, and writes no book.

Intents are listed only when the book says some may be open; routed changes are read only when
the feed routed some since the mailbox consumed them; the engine's own export / import dates live
in the status; a delta round that saw nothing keeps its stored link. Each skip is backed by state
the run reads anyway, so mailboxes an earlier version synced, crashes and a feed that routes while
the run works lose nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.admin.status import apply_outcome
from shared.domain.config import LoggingLevel, ServerConfig, SyncPolicy
from shared.domain.records import Contact, RecordType
from shared.domain.status import MailboxStatus, RunState, RunSummary
from shared.errors import RemoteError
from shared.ports import CursorBook, SyncOutcome
from shared.state import codec
from shared.sync import intent_flag, names
from tests.unit.sync.harness import Crash, Harness, crash_after_writes
from tests.unit.sync.test_feed import BOB, contact, followed, read, run, world

C = RecordType.CONTACT
ENGINE_READS = ("list_mailbox_intents", "list_intents", "list_mailbox_routed", "list_routed", "put_cursors",
                "get_cursors")


def record_calls(w: Harness, methods: tuple[str, ...] = ENGINE_READS) -> list[str]:
    """The names of these state methods as the engine calls them (the twin itself, wrapped)."""
    calls: list[str] = []
    for name in methods:
        original = getattr(w.state, name)

        def wrapped(*args: Any, _name: str = name, _original: Callable[..., Any] = original, **kw: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kw)

        setattr(w.state, name, wrapped)
    return calls


def contacts_only() -> Harness:
    """Contacts only, the ERP holding one (an empty ERP gives its listing no watermark to keep)."""
    policy = SyncPolicy(name="p", emails={"enabled": False}, tasks={"enabled": False}, events={"enabled": False})
    w = Harness(policy, ServerConfig(name="s1", select_batch_size=3, update_batch_size=2,
                                     logging_level=LoggingLevel.INFORMATIONAL))
    w.user_erp_create(C, contact(0))
    return w


async def book(w: Harness) -> CursorBook:
    return await w.state.get_cursors(w.mailbox.email)


async def test_an_idle_feed_run_reads_the_book_only_and_writes_nothing() -> None:
    w = world()
    w.user_erp_create(C, contact(0))
    await followed(w)
    assert (await run(w)).state is RunState.SUCCEEDED       # settles the flags
    before = await book(w)
    calls = record_calls(w)
    assert (await run(w)).state is RunState.SUCCEEDED
    assert calls == ["get_cursors"]
    assert await book(w) == before                          # the delta link was kept, nothing written
    values = before.values
    assert values[names.INTENTS] == intent_flag.NONE
    assert values[names.ROUTED_CONSUMED] == values[names.ROUTED]
    assert names.export_mark(C) not in values and names.import_mark(C) not in values


async def test_a_routed_change_is_read_once_and_then_the_book_says_none_waits() -> None:
    w = world()
    await followed(w)
    w.user_erp_create(C, contact(1))
    count = (await book(w)).values.get(names.ROUTED)
    assert (await read(w)).mailboxes == {w.mailbox.email}
    assert (await book(w)).values[names.ROUTED] != count    # the feed bumped ann's count
    bob = (await w.state.get_cursors(BOB.email)).values
    assert names.ROUTED not in bob                          # nothing was routed to bob
    calls = record_calls(w)
    assert (await run(w)).state is RunState.SUCCEEDED
    assert "list_mailbox_routed" in calls
    assert [i.record.first_name for i in w.mailbox_items(C)] == ["F1"]
    values = (await book(w)).values
    assert values[names.ROUTED_CONSUMED] == values[names.ROUTED]
    calls.clear()
    assert (await run(w)).state is RunState.SUCCEEDED
    assert "list_mailbox_routed" not in calls and "list_routed" not in calls


async def test_a_change_left_routed_keeps_the_counts_apart_until_it_is_consumed() -> None:
    w = world()
    await followed(w)
    w.user_erp_create(C, contact(1))
    await read(w)
    w.erp.fail_call(1, RemoteError("down", status=503))   # the run's read by id fails: the row stays
    assert (await run(w)).state is not RunState.SUCCEEDED
    values = (await book(w)).values
    assert values.get(names.ROUTED_CONSUMED) != values[names.ROUTED]
    calls = record_calls(w)
    assert (await run(w)).state is RunState.SUCCEEDED
    assert "list_mailbox_routed" in calls
    assert [i.record.first_name for i in w.mailbox_items(C)] == ["F1"]


async def test_a_bump_while_the_run_works_is_never_hidden_by_its_flush() -> None:
    """The feed routes a change after the run read the book and before it flushed: the run's flush
    meets the bumped book (412), re-reads it and keeps the bump, so the next run reads the change
    even without another feed read."""
    w = world()
    await followed(w)
    assert (await run(w)).state is RunState.SUCCEEDED
    original = w.state.get_cursors
    raced = False

    async def get_cursors(mailbox: str) -> CursorBook:
        nonlocal raced
        got = await original(mailbox)
        if not raced and mailbox == w.mailbox.email:
            raced = True
            w.user_erp_create(C, contact(7))
            assert (await read(w)).mailboxes == {w.mailbox.email}  # rows, bump, watermark
        return got

    w.state.get_cursors = get_cursors  # type: ignore[method-assign]
    item = w.mailbox_items(C)
    assert item == []
    w.user_mailbox_create(C, Contact(first_name="M1"))   # the run writes its book (a new link, an intent)
    assert (await run(w)).state is RunState.SUCCEEDED
    assert raced
    values = (await book(w)).values
    assert values[names.ROUTED] != values.get(names.ROUTED_CONSUMED)  # the bump survived the flush
    assert (await run(w)).state is RunState.SUCCEEDED   # no feed read in between
    assert sorted(i.record.first_name for i in w.mailbox_items(C)) == ["F7", "M1"]
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []


async def test_intents_are_listed_only_when_the_book_says_some_may_be_open() -> None:
    w = contacts_only()
    w.user_erp_create(C, contact(1))
    calls = record_calls(w)
    assert (await w.run(C)).state is RunState.SUCCEEDED     # first run: no flag yet, it lists
    assert "list_mailbox_intents" in calls
    assert (await book(w)).values[names.INTENTS] == intent_flag.NONE
    calls.clear()
    w.user_erp_create(C, contact(2))
    assert (await w.run(C)).state is RunState.SUCCEEDED     # writes an intent, resolves it itself
    assert "list_mailbox_intents" not in calls
    assert (await book(w)).values[names.INTENTS] == intent_flag.NONE
    assert len(w.mailbox_items(C)) == 3


async def test_a_crash_after_an_intent_was_written_leaves_the_flag_open() -> None:
    w = contacts_only()
    assert (await w.run(C)).state is RunState.SUCCEEDED
    w.user_erp_create(C, contact(1))
    crash_after_writes(w.mbx, 1)                            # the create succeeds, the process dies
    with pytest.raises(Crash):
        await w.run(C)
    assert (await book(w)).values[names.INTENTS] == intent_flag.OPEN
    assert len(await w.state.list_mailbox_intents(w.mailbox.email)) == 1
    calls = record_calls(w)
    assert (await w.run(C)).state is RunState.SUCCEEDED     # lists, links the created item
    assert "list_mailbox_intents" in calls
    assert len(w.mailbox_items(C)) == 2
    assert await w.state.list_mailbox_intents(w.mailbox.email) == []
    assert (await book(w)).values[names.INTENTS] == intent_flag.NONE


async def test_a_mailbox_an_earlier_version_synced_works_on_and_its_reset_marks_once() -> None:
    w = contacts_only()
    w.user_erp_create(C, contact(1))
    assert (await w.run(C)).state is RunState.SUCCEEDED
    # as an earlier version left it: marks in the book, no flags, no engine dates in the status
    stored = await w.state.get_status(w.mailbox.email)
    assert stored is not None
    status = stored.value
    old = dict((await book(w)).values)
    for name in (names.INTENTS, names.ROUTED, names.ROUTED_CONSUMED):
        old.pop(name, None)
    old[names.export_mark(C)] = status.export_dates[C].isoformat()
    old[names.import_mark(C)] = status.import_dates[C].isoformat()
    current = await book(w)
    await w.state.put_cursors(dataclasses.replace(current, values=old))
    # the admin resets the export date (as the reset route does to the status)
    legacy = dataclasses.replace(status, export_dates={}, engine_export_dates={}, engine_import_dates={})
    await w.state.put_status(legacy, stored.etag)
    calls = record_calls(w)
    assert (await w.run(C)).state is RunState.SUCCEEDED
    assert "list_mailbox_intents" in calls                  # no flag: it lists
    log = await w.state.list_log(w.mailbox.email, None, 100, None)
    assert sum("export date was reset" in e.message for e in log.items) == 1  # type: ignore[union-attr]
    after = await w.state.get_status(w.mailbox.email)
    assert after is not None and C in after.value.engine_export_dates and C in after.value.engine_import_dates
    assert len(w.mailbox_items(C)) == 2
    assert (await w.run(C)).state is RunState.SUCCEEDED     # the marks go once the status has the dates
    values = (await book(w)).values
    assert names.export_mark(C) not in values and names.import_mark(C) not in values
    log = await w.state.list_log(w.mailbox.email, None, 100, None)
    assert sum("date was reset" in e.message for e in log.items) == 1  # type: ignore[union-attr]
    before = await book(w)
    calls.clear()
    assert (await w.run(C)).state is RunState.SUCCEEDED
    assert calls == ["get_cursors"]
    assert await book(w) == before


async def test_a_delta_round_with_changes_stores_its_new_link() -> None:
    w = contacts_only()
    assert (await w.run(C)).state is RunState.SUCCEEDED
    assert (await w.run(C)).state is RunState.SUCCEEDED
    link = (await book(w)).values[names.mailbox_cursor(C)]
    assert (await w.run(C)).state is RunState.SUCCEEDED
    assert (await book(w)).values[names.mailbox_cursor(C)] == link  # idle: kept
    w.user_mailbox_create(C, Contact(first_name="M1"))
    assert (await w.run(C)).state is RunState.SUCCEEDED
    assert (await book(w)).values[names.mailbox_cursor(C)] != link
    assert len(w.erp_items(C)) == 2


async def test_a_reset_of_the_mailbox_side_during_a_run_is_not_undone_by_a_kept_link() -> None:
    """A renewed delta link rides only on a write of the book, and only while the book still holds
    a link: an admin's deletion meanwhile wins."""
    w = contacts_only()
    assert (await w.run(C)).state is RunState.SUCCEEDED
    assert (await w.run(C)).state is RunState.SUCCEEDED
    old_mark = "2000-01-01T00:00:00+00:00"
    await w.state.put_cursor(w.mailbox.email, names.erp_reconciled_mark(C), old_mark)  # due: the run writes
    original = w.state.get_cursors
    done = False

    async def get_cursors(mailbox: str) -> CursorBook:
        nonlocal done
        got = await original(mailbox)
        if not done:
            done = True
            await w.state.delete_cursor(mailbox, names.mailbox_cursor(C))  # the admin's resync
        return got

    w.state.get_cursors = get_cursors  # type: ignore[method-assign]
    assert (await w.run(C)).state is RunState.SUCCEEDED
    values = (await book(w)).values
    assert values[names.erp_reconciled_mark(C)] != old_mark  # the run wrote its book
    assert names.mailbox_cursor(C) not in values             # and left the admin's deletion alone


def test_the_status_keeps_the_engines_dates_and_reads_an_earlier_versions_without_them() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    run_summary = RunSummary("r1", RunState.SUCCEEDED, at, at)
    status = apply_outcome(MailboxStatus(email="ann@contoso.com"),
                           SyncOutcome(run_summary, {C: at}, {RecordType.TASK: at}))
    assert status.export_dates == status.engine_export_dates == {C: at}
    assert status.import_dates == status.engine_import_dates == {RecordType.TASK: at}
    assert codec.decode_status(codec.encode_status(status)) == status
    earlier = codec.encode_status(status).replace('"engine_export_dates"', '"x1"').replace(
        '"engine_import_dates"', '"x2"')
    decoded = codec.decode_status(earlier)
    assert decoded.export_dates == {C: at} and decoded.engine_export_dates == {} == decoded.engine_import_dates
