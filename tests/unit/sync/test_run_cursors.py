"""RunCursors: one read per run, one write per flush and none when nothing changed; an admin's
change made meanwhile is kept under this run's own changes."""

from __future__ import annotations

from typing import Any

from shared.ports import CursorBook
from shared.state.memory import InMemoryStateStore
from shared.sync.cursors import RunCursors

MB = "ann@contoso.test"


class Counting(InMemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def get_cursors(self, mailbox: str) -> CursorBook:
        self.calls.append("get")
        return await super().get_cursors(mailbox)

    async def put_cursors(self, book: CursorBook) -> CursorBook:
        self.calls.append("put")
        return await super().put_cursors(book)


async def test_read_once_write_once_and_only_when_changed() -> None:
    store = Counting()
    await store.put_cursor(MB, "contact.erp", "w1")
    store.calls.clear()
    cursors = await RunCursors.load(store, MB)
    assert cursors.get("contact.erp") == "w1" and cursors.get("contact.mailbox") is None
    cursors.put("contact.erp", "w1")          # same value
    await cursors.flush()
    assert store.calls == ["get"]              # nothing written
    cursors.put("contact.erp", "w2")
    cursors.put("contact.mailbox", "d1")
    cursors.delete("task.erp")                 # absent: no change
    assert cursors.get("contact.erp") == "w2"
    await cursors.flush()
    await cursors.flush()
    assert store.calls == ["get", "put"]
    assert (await store.get_cursors(MB)).values == {"contact.erp": "w2", "contact.mailbox": "d1"}


async def test_a_concurrent_admin_change_survives_under_the_runs_own() -> None:
    store = InMemoryStateStore()
    await store.put_cursor(MB, "contact.erp", "w1")
    await store.put_cursor(MB, "task.erp", "t1")
    cursors = await RunCursors.load(store, MB)
    await store.delete_cursor(MB, "task.erp")  # an admin's resync while the run works
    cursors.put("contact.erp", "w2")
    await cursors.flush()
    values: dict[str, Any] = (await store.get_cursors(MB)).values
    assert values == {"contact.erp": "w2"}


async def test_a_refreshed_value_rides_only_on_another_write_and_only_while_stored() -> None:
    store = Counting()
    await store.put_cursor(MB, "contact.mailbox", "d1")
    await store.put_cursor(MB, "task.mailbox", "t1")
    store.calls.clear()
    cursors = await RunCursors.load(store, MB)
    cursors.refresh("contact.mailbox", "d2")
    assert cursors.get("contact.mailbox") == "d2" and cursors.stored("contact.mailbox") == "d1"
    await cursors.flush()
    assert store.calls == ["get"]                                  # nothing else changed: no write
    await store.delete_cursor(MB, "task.mailbox")                  # an admin's resync meanwhile
    cursors.refresh("task.mailbox", "t2")
    cursors.put("contact.erp", "w1")
    await cursors.flush()                                          # 412, re-read, own changes on top
    values: dict[str, Any] = (await store.get_cursors(MB)).values
    assert values == {"contact.mailbox": "d2", "contact.erp": "w1"}  # the deleted one stays deleted


async def test_a_created_value_never_overwrites_another_writers() -> None:
    store = InMemoryStateStore()
    await store.put_cursor(MB, "contact.erp", "w1")
    cursors = await RunCursors.load(store, MB)
    cursors.create("routed", "0")
    cursors.put("routed.consumed", "0")
    await store.put_cursor(MB, "routed", "1")                      # the feed bumps while the run works
    await cursors.flush()
    values: dict[str, Any] = (await store.get_cursors(MB)).values
    assert values == {"contact.erp": "w1", "routed": "1", "routed.consumed": "0"}
    fresh = await RunCursors.load(store, MB)
    fresh.create("other", "x")
    await fresh.flush()
    assert (await store.get_cursors(MB)).values["other"] == "x"    # absent: created
