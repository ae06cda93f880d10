"""Thread map contract: the same behaviour on Table Storage (Azurite) and on the in-memory twin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from shared.state.memory import InMemoryStateStore
from shared.state.table import TableStateStore
from shared.state.threads import ThreadMap

BOX = "support@contoso.test"
LONG_ID = "<" + "x" * 400 + "@customer.test>"


@pytest.fixture(params=["memory", "table"])
async def threads(request: pytest.FixtureRequest) -> AsyncIterator[ThreadMap]:
    if request.param == "memory":
        yield ThreadMap(InMemoryStateStore())
        return
    conn = request.getfixturevalue("azurite_connection_string")
    store = TableStateStore.from_connection_string(conn, table_prefix=f"th{uuid.uuid4().hex[:8]}")
    await store.create_tables()
    try:
        yield ThreadMap(store)
    finally:
        await store.delete_tables()
        await store.aclose()


async def test_messages_and_conversations(threads: ThreadMap) -> None:
    assert await threads.message(BOX, "<a@customer.test>") is None
    thread = {"kind": "case", "record_id": "n1", "case_id": "000001"}
    await threads.record(BOX, "<A@Customer.test>", {"thread": thread, "method": "new"}, "conv/1+=", thread)
    assert (await threads.message(BOX, "<a@customer.test>")) == {"thread": thread, "method": "new"}
    assert await threads.message("sales@contoso.test", "<a@customer.test>") is None
    assert await threads.conversation(BOX, "conv/1+=") == thread
    assert await threads.conversation(BOX, "") is None
    await threads.record(BOX, LONG_ID, {"thread": None, "method": "none"})
    assert (await threads.message(BOX, LONG_ID)) == {"thread": None, "method": "none"}


async def test_intent_is_create_only(threads: ThreadMap) -> None:
    assert await threads.begin(BOX, "<m@x>", {"origin": "o1", "worker": "w1"}) is None
    assert await threads.begin(BOX, "<m@x>", {"origin": "o1", "worker": "w2"}) == {"origin": "o1", "worker": "w1"}
    await threads.finish(BOX, "<m@x>")
    assert await threads.begin(BOX, "<m@x>", {"origin": "o1", "worker": "w3"}) is None


async def test_replies(threads: ThreadMap) -> None:
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert await threads.last_reply(BOX, "carol@customer.test", "conv") is None
    await threads.replied(BOX, "carol@customer.test", "conv", at)
    assert await threads.last_reply(BOX, "carol@customer.test", "conv") == at
    assert await threads.last_reply(BOX, "carol@customer.test", "other") is None
