"""One contract for every StateStore: the in-memory twin and the Table store on Azurite.

Each test runs twice (``store`` is parametrized); the Table store uses tables under a prefix
unique to this module, emptied after every test. Time is an injected clock: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from azure.data.tables.aio import TableServiceClient as AsyncTableServiceClient

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import Counts, LogEntry, LogLevel, MailboxStatus, RunState, RunSummary
from shared.errors import AlreadyExists, ConcurrencyConflict, ValidationFailed
from shared.ports import ConfigSnapshot, Intent, Link, MailboxContext, RoutedChange, Side, StateStore
from shared.state.memory import InMemoryStateStore
from shared.state.table import TABLES, TableStateStore


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def table_prefix(azurite_connection_string: str) -> Iterator[str]:
    """One set of tables for the module (a unique prefix); each test empties them afterwards."""
    prefix = "ct" + uuid.uuid4().hex[:10]
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    for name in TABLES:
        service.create_table(prefix + name)
    yield prefix
    for name in TABLES:
        service.delete_table(prefix + name)


async def _empty_tables(conn: str, prefix: str) -> None:
    async with AsyncTableServiceClient.from_connection_string(conn) as service:
        await asyncio.gather(*(_empty_table(service.get_table_client(prefix + name)) for name in TABLES))


async def _empty_table(client: Any) -> None:
    by_partition: dict[str, list[Any]] = {}
    async for entity in client.list_entities(select=["PartitionKey", "RowKey"]):
        by_partition.setdefault(entity["PartitionKey"], []).append(("delete", entity))
    for ops in by_partition.values():
        for start in range(0, len(ops), 100):
            await client.submit_transaction(ops[start:start + 100])


@pytest.fixture(params=["memory", "table"])
async def store(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield InMemoryStateStore(clock)
        return
    conn = request.getfixturevalue("azurite_connection_string")
    prefix = request.getfixturevalue("table_prefix")
    table = TableStateStore.from_connection_string(conn, table_prefix=prefix, clock=clock)
    try:
        yield table
    finally:
        await table.aclose()
        await _empty_tables(conn, prefix)


MB = "ann@contoso.com"
CT = RecordType.CONTACT


def link(erp_id: str, mailbox_id: str, *, mailbox: str = MB, record_type: RecordType = CT,
         **changes: Any) -> Link:
    base = Link(mailbox=mailbox, record_type=record_type, erp_id=erp_id, mailbox_id=mailbox_id,
                erp_version="2026-01-01T00:00:00", mailbox_version="ck1", erp_hash="e" * 64,
                mailbox_hash="m" * 64, base={"display_name": "Ann", "tags": ["a", "b"]},
                synced_at=datetime(2026, 1, 1, tzinfo=UTC))
    return dataclasses.replace(base, **changes)


HOSTILE_IDS = [
    "a/b", "a\\b", "a#b", "a?b", "%2F%", "it's", "quote\"d", "pipe|and:colon", "tilde~x", "bang!41",
    "ctl\x00\x01\x1f\x7f\x80\x9f", "tab\tnew\nline", "ünïcødé 漢字 🎉", "  spaced  ", "",
    "AAMkAGI2TG93AAA=/+x", "x" * 1024, "/#?\\" * 256, "2KB-" + "y" * 2044,
]
HOSTILE_NAMES = ["slash/1", "hash#2", "q?3", "back\\4", "ctl\x075", "1KB-" + "k" * 1020, "2KB-" + "é" * 2048]


# ---------------------------------------------------------------- configuration


ConfigCase = tuple[Callable[[str, str], Any], str, str]
CONFIG: dict[str, ConfigCase] = {
    "policy": (lambda name, note: SyncPolicy(name=name, description=note), "policies", "name"),
    "server": (lambda name, note: ServerConfig(name=name, client_id=note), "servers", "name"),
    "mailbox": (lambda name, note: Mailbox(email=f"{name}@contoso.com", server="srv", employee_id="E1",
                                           employee_name=note), "mailboxes", "email"),
}


def _ops(store: StateStore, kind: str) -> tuple[Callable[..., Awaitable[Any]], ...]:
    return (getattr(store, f"get_{kind}"), getattr(store, f"put_{kind}"), getattr(store, f"delete_{kind}"),
            getattr(store, f"list_{CONFIG[kind][1]}"))


@pytest.mark.parametrize("kind", sorted(CONFIG))
async def test_config_rows_have_create_only_conditional_and_forced_puts(store: StateStore, kind: str) -> None:
    make, _, key_field = CONFIG[kind]
    get, put, delete, list_all = _ops(store, kind)
    first = make("alpha", "one")
    key = getattr(first, key_field)
    assert await get(key) is None
    etag1 = await put(first)
    stored = await get(key)
    assert stored.value == first and stored.etag == etag1
    with pytest.raises(AlreadyExists):
        await put(make("alpha", "again"))
    etag2 = await put(make("alpha", "two"), etag1)
    assert etag2 != etag1
    with pytest.raises(ConcurrencyConflict):
        await put(make("alpha", "stale"), etag1)
    assert (await get(key)).value == make("alpha", "two")
    etag3 = await put(make("alpha", "forced"), force=True)
    assert (await get(key)) .etag == etag3
    await put(make("beta", "b"))
    assert [getattr(s.value, key_field) for s in await list_all()] == sorted(
        [key, getattr(make("beta", ""), key_field)])
    with pytest.raises(ConcurrencyConflict):
        await delete(key, etag2)
    await delete(key, etag3)
    assert await get(key) is None
    await delete(key)  # deleting a missing row is not an error
    with pytest.raises(ConcurrencyConflict):
        await put(make("alpha", "gone"), etag3)


@pytest.mark.parametrize("kind", sorted(CONFIG))
async def test_two_writers_of_one_config_row_one_gets_conflict(store: StateStore, kind: str) -> None:
    make, _, key_field = CONFIG[kind]
    get, put, _, _ = _ops(store, kind)
    etag = await put(make("shared", "v0"))
    results = await asyncio.gather(put(make("shared", "w1"), etag), put(make("shared", "w2"), etag),
                                   return_exceptions=True)
    assert sum(isinstance(r, str) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 1
    winner = 0 if isinstance(results[0], str) else 1
    stored = await get(getattr(make("shared", ""), key_field))
    assert stored.value == make("shared", f"w{winner + 1}")
    assert stored.etag == results[winner]


async def test_mailboxes_list_by_server_and_lookup_ignores_case(store: StateStore) -> None:
    await store.put_mailbox(Mailbox(email="Ann@Contoso.com", server="east", employee_id="E1"))
    await store.put_mailbox(Mailbox(email="bob@contoso.com", server="west", employee_id="E2"))
    assert [m.value.email for m in await store.list_mailboxes("east")] == ["ann@contoso.com"]
    assert len(await store.list_mailboxes()) == 2
    found = await store.get_mailbox("ANN@contoso.COM")
    assert found is not None and found.value.employee_id == "E1"


async def test_hostile_mailbox_address_round_trips(store: StateStore) -> None:
    email = "o'neil+x#y/z?w\\v@exämple.com"
    mailbox = Mailbox(email=email, server="s", employee_id="E9")
    etag = await store.put_mailbox(mailbox)
    stored = await store.get_mailbox(email)
    assert stored is not None and stored.value == mailbox and stored.etag == etag


async def test_mailbox_context_is_the_mailbox_its_server_and_its_policy(store: StateStore) -> None:
    hostile = "o'neil+x#y/z?w\\v@exämple.com"
    await store.put_policy(SyncPolicy(name="sales"))
    await store.put_policy(SyncPolicy(name="own policy 1"))
    await store.put_server(ServerConfig(name="east", default_policy="sales"))
    await store.put_server(ServerConfig(name="west", default_policy="missing"))
    await store.put_mailbox(Mailbox(email="ann@contoso.com", server="east", employee_id="E1"))
    await store.put_mailbox(Mailbox(email="ann@contoso.com.au", server="west", employee_id="E2"))
    await store.put_mailbox(Mailbox(email=hostile, server="west", employee_id="E3", policy="own policy 1"))

    ann = await store.get_mailbox_context("ANN@contoso.com")
    assert ann == MailboxContext(await store.get_mailbox(MB), await store.get_server("east"),
                                 await store.get_policy("sales"))   # etags kept
    odd = await store.get_mailbox_context(hostile)
    assert odd == MailboxContext(await store.get_mailbox(hostile), await store.get_server("west"),
                                 await store.get_policy("own policy 1"))
    # the server's default policy is not stored: the server is there, the policy is not
    assert await store.get_mailbox_context("ann@contoso.com.au") == MailboxContext(
        await store.get_mailbox("ann@contoso.com.au"), await store.get_server("west"), None)
    assert await store.get_mailbox_context("nobody@contoso.com") == MailboxContext(None)


async def test_mailbox_context_of_a_mailbox_whose_server_is_missing(store: StateStore) -> None:
    await store.put_policy(SyncPolicy(name="sales"))
    await store.put_mailbox(Mailbox(email="ann@contoso.com", server="gone", employee_id="E1"))
    await store.put_mailbox(Mailbox(email="bob@contoso.com", server="gone", employee_id="E2", policy="sales"))
    assert await store.get_mailbox_context(MB) == MailboxContext(await store.get_mailbox(MB), None, None)
    bob = await store.get_mailbox_context("bob@contoso.com")
    assert (bob.server, bob.policy) == (None, await store.get_policy("sales"))   # its own policy is still named


async def test_list_config_is_every_policy_server_and_mailbox_in_list_order(store: StateStore) -> None:
    assert await store.list_config() == ConfigSnapshot()
    for name in ("zeta", "alpha", "two words"):
        await store.put_policy(SyncPolicy(name=name))
        await store.put_server(ServerConfig(name=name))
    for email, server in (("zed@contoso.com", "alpha"), ("o'neil#x@contoso.com", "zeta"), (MB, "gone")):
        await store.put_mailbox(Mailbox(email=email, server=server, employee_id="E1"))
    config = await store.list_config()
    assert config == ConfigSnapshot(tuple(await store.list_policies()), tuple(await store.list_servers()),
                                    tuple(await store.list_mailboxes()))
    assert len(config.policies) == len(config.servers) == len(config.mailboxes) == 3
    assert config.context("ZED@contoso.com").server == await store.get_server("alpha")


# ---------------------------------------------------------------- links


async def test_link_insert_lookup_both_ways_and_create_only(store: StateStore) -> None:
    written = await store.put_link(link("E1", "M1"))
    assert written.etag
    assert await store.get_link_by_erp(MB, CT, "E1") == written
    assert await store.get_link_by_mailbox(MB, CT, "M1") == written
    assert await store.get_link_by_erp(MB, RecordType.TASK, "E1") is None
    assert await store.get_link_by_erp("bob@contoso.com", CT, "E1") is None
    with pytest.raises(AlreadyExists):
        await store.put_link(link("E1", "M2"))
    with pytest.raises(AlreadyExists):
        await store.put_link(link("E2", "M1"))
    assert await store.get_link_by_mailbox(MB, CT, "M2") is None
    assert await store.get_link_by_erp(MB, CT, "E2") is None


async def test_link_replace_moves_the_mailbox_side(store: StateStore) -> None:
    first = await store.put_link(link("E1", "M1"))
    moved = await store.put_link(dataclasses.replace(first, mailbox_id="M9", mailbox_version="ck2"))
    assert moved.etag != first.etag
    assert await store.get_link_by_mailbox(MB, CT, "M1") is None
    assert await store.get_link_by_mailbox(MB, CT, "M9") == moved
    assert await store.get_link_by_erp(MB, CT, "E1") == moved
    with pytest.raises(ConcurrencyConflict):
        await store.put_link(dataclasses.replace(first, erp_hash="stale"))
    other = await store.put_link(link("E2", "M2"))
    with pytest.raises(AlreadyExists):
        await store.put_link(dataclasses.replace(moved, mailbox_id="M2"))
    assert await store.get_link_by_mailbox(MB, CT, "M2") == other


async def test_two_writers_of_one_link_one_gets_conflict(store: StateStore) -> None:
    read = await store.put_link(link("E1", "M1"))
    results = await asyncio.gather(store.put_link(dataclasses.replace(read, erp_version="w1")),
                                   store.put_link(dataclasses.replace(read, erp_version="w2")),
                                   return_exceptions=True)
    winners = [r for r in results if isinstance(r, Link)]
    assert len(winners) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 1
    assert await store.get_link_by_erp(MB, CT, "E1") == winners[0]
    assert await store.get_link_by_mailbox(MB, CT, "M1") == winners[0]


async def test_delete_link_is_conditional_and_removes_both_lookups(store: StateStore) -> None:
    first = await store.put_link(link("E1", "M1"))
    await store.put_link(dataclasses.replace(first, erp_version="v2"))
    with pytest.raises(ConcurrencyConflict):
        await store.delete_link(first)
    assert await store.get_link_by_erp(MB, CT, "E1") is not None
    await store.delete_link(dataclasses.replace(first, etag=None))
    assert await store.get_link_by_erp(MB, CT, "E1") is None
    assert await store.get_link_by_mailbox(MB, CT, "M1") is None
    await store.delete_link(first)  # already gone: no error
    again = await store.put_link(link("E1", "M1"))
    assert await store.get_link_by_mailbox(MB, CT, "M1") == again


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
async def test_hostile_ids_round_trip_as_link_ids(store: StateStore, hostile: str) -> None:
    written = await store.put_link(link(hostile, "mb-" + hostile, base={"id": hostile}))
    assert await store.get_link_by_erp(MB, CT, hostile) == written
    assert await store.get_link_by_mailbox(MB, CT, "mb-" + hostile) == written
    page = await store.list_links(MB, CT, None, 10)
    assert [item.erp_id for item in page.items if isinstance(item, Link)] == [hostile]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
async def test_hostile_names_round_trip_as_mailbox_cursor_doc_and_log_keys(store: StateStore, name: str) -> None:
    await store.put_cursor(name, name, "delta:" + name)
    cursor = await store.get_cursor(name, name)
    assert cursor is not None and cursor.value == "delta:" + name
    written = await store.put_link(link("E1", "M1", mailbox=name))
    assert await store.get_link_by_mailbox(name, CT, "M1") == written
    await store.put_doc(name, name, {"k": name})
    doc = await store.get_doc(name, name)
    assert doc is not None and doc.value == {"k": name}
    assert [k for k, _ in await store.list_docs(name, name[:3])] == [name]
    await store.append_log(name, [LogEntry(LogLevel.WARNING, datetime(2026, 3, 1, tzinfo=UTC), "m")])
    assert [e.message for e in (await store.list_log(name, None, 5, None)).items
            if isinstance(e, LogEntry)] == ["m"]


async def test_long_ids_sharing_a_prefix_stay_distinct(store: StateStore) -> None:
    stem = "p" * 1500
    a = await store.put_link(link(stem + "A", stem + "a"))
    b = await store.put_link(link(stem + "B", stem + "b"))
    assert await store.get_link_by_erp(MB, CT, stem + "A") == a
    assert await store.get_link_by_erp(MB, CT, stem + "B") == b
    assert await store.get_link_by_mailbox(MB, CT, stem + "b") == b
    assert await store.get_link_by_erp(MB, CT, stem + "C") is None


async def test_put_links_of_250_split_into_transactions_and_all_readable(store: StateStore) -> None:
    links = [link(f"E{i:03d}", f"M{i:03d}") for i in range(250)]
    written = await store.put_links(links)
    assert len(written) == 250 and len({w.etag for w in written}) == 250
    for i in (0, 99, 100, 199, 249):
        assert await store.get_link_by_erp(MB, CT, f"E{i:03d}") == written[i]
        assert await store.get_link_by_mailbox(MB, CT, f"M{i:03d}") == written[i]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await store.list_links(MB, CT, cursor, 64)
        pages += 1
        seen.extend(item.erp_id for item in page.items if isinstance(item, Link))
        if page.complete:
            break
        cursor = page.cursor
    assert sorted(seen) == sorted(link.erp_id for link in links) and len(seen) == 250
    assert pages == 4
    if isinstance(store, TableStateStore):
        assert store.stats["largest"] <= 100
        assert store.stats["operations"] == 500  # two rows per link
        assert store.stats["transactions"] == 5
    updated = await store.put_links([dataclasses.replace(w, erp_version="v2") for w in written[110:140]])
    assert (await store.get_link_by_mailbox(MB, CT, "M123")) == updated[13]
    assert updated[13].erp_version == "v2" and updated[13].etag != written[123].etag
    with pytest.raises(ConcurrencyConflict):
        await store.put_links([written[120]])


async def test_put_links_judges_each_link_against_the_state_before_the_batch(store: StateStore) -> None:
    a, b = await store.put_links([link("E1", "M1"), link("E2", "M2")])
    with pytest.raises(AlreadyExists):
        await store.put_links([dataclasses.replace(a, mailbox_id="M2"), dataclasses.replace(b, mailbox_id="M1")])
    with pytest.raises(AlreadyExists):
        await store.put_links([dataclasses.replace(a, mailbox_id="M3"), dataclasses.replace(b, mailbox_id="M1")])
    assert await store.get_link_by_mailbox(MB, CT, "M1") == a
    assert await store.get_link_by_mailbox(MB, CT, "M2") == b
    assert await store.get_link_by_mailbox(MB, CT, "M3") is None


async def test_put_links_rejects_mixed_partitions_and_writes_nothing(store: StateStore) -> None:
    mixed = [link("E1", "M1"), link("E2", "M2", record_type=RecordType.TASK)]
    with pytest.raises(ValidationFailed) as caught:
        await store.put_links(mixed)
    assert "links[1]" in caught.value.errors
    with pytest.raises(ValidationFailed):
        await store.put_links([link("E1", "M1"), link("E2", "M2", mailbox="bob@contoso.com")])
    with pytest.raises(ValidationFailed):
        await store.put_links([link("E1", "M1"), link("E1", "M2")])
    assert await store.get_link_by_erp(MB, CT, "E1") is None


async def test_links_reject_bad_input_naming_the_field(store: StateStore) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await store.put_link(link("E1", "M1", base={"when": datetime(2026, 1, 1, tzinfo=UTC)}))
    assert "link.base" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        await store.put_link(link("E1", "M1", base={"body": "x" * 300_000}))
    assert "link.base" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        await store.list_links(MB, CT, None, 0)
    assert "page_size" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        await store.list_links(MB, CT, "not a cursor!", 10)
    assert "cursor" in caught.value.errors


async def test_large_link_base_is_chunked_and_round_trips(store: StateStore) -> None:
    body = "".join(chr(0x4E00 + i % 500) for i in range(100_000)) + "🎉" * 5000
    written = await store.put_link(link("E1", "M1", base={"body": body}))
    read = await store.get_link_by_mailbox(MB, CT, "M1")
    assert read == written and read.base["body"] == body


async def test_stored_state_is_not_aliased_by_callers(store: StateStore) -> None:
    base: dict[str, Any] = {"tags": ["a"]}
    written = await store.put_link(link("E1", "M1", base=base))
    base["tags"].append("mutated")
    written.base["tags"].append("mutated too")
    read = await store.get_link_by_erp(MB, CT, "E1")
    assert read is not None and read.base == {"tags": ["a"]}
    read.base["tags"].clear()
    doc: dict[str, Any] = {"n": [1]}
    await store.put_doc("k", "d", doc)
    doc["n"].append(2)
    got = await store.get_doc("k", "d")
    assert got is not None and got.value == {"n": [1]}
    got.value["n"].append(3)
    assert (await store.get_doc("k", "d")).value == {"n": [1]}
    assert (await store.get_link_by_erp(MB, CT, "E1")).base == {"tags": ["a"]}


async def test_get_links_reads_a_page_of_ids_on_either_side(store: StateStore) -> None:
    stored = await store.put_links([link(f"E{n}", f"M{n}") for n in range(40)])
    await store.put_link(link("E/odd#1", "M?odd 1"))
    by_erp = await store.get_links(MB, CT, Side.ERP, [f"E{n}" for n in range(0, 40, 2)] + ["E/odd#1", "nope"])
    assert sorted(by_erp) == sorted([f"E{n}" for n in range(0, 40, 2)] + ["E/odd#1"])
    assert by_erp["E4"] == stored[4]
    by_mailbox = await store.get_links(MB, CT, Side.MAILBOX, ["M1", "M?odd 1", "M1", "E1"])
    assert sorted(by_mailbox) == ["M1", "M?odd 1"] and by_mailbox["M1"].erp_id == "E1"
    assert await store.get_links(MB, RecordType.TASK, Side.ERP, ["E1"]) == {}
    assert await store.get_links(MB, CT, Side.ERP, []) == {}


# ---------------------------------------------------------------- cursors, intents, status, docs


async def test_cursors_upsert_and_conditional_replace(store: StateStore) -> None:
    etag1 = await store.put_cursor(MB, "contact.delta", "https://graph/delta?token=1")
    etag2 = await store.put_cursor(MB, "contact.delta", "https://graph/delta?token=2")
    with pytest.raises(ConcurrencyConflict):
        await store.put_cursor(MB, "contact.delta", "stale", etag1)
    etag3 = await store.put_cursor(MB, "contact.delta", "token=3", etag2)
    stored = await store.get_cursor(MB, "contact.delta")
    assert stored is not None and (stored.value, stored.etag) == ("token=3", etag3)
    assert await store.get_cursor(MB, "task.delta") is None
    await store.delete_cursor(MB, "contact.delta")
    await store.delete_cursor(MB, "contact.delta")
    assert await store.get_cursor(MB, "contact.delta") is None


async def test_cursor_book_holds_every_cursor_of_a_mailbox(store: StateStore) -> None:
    empty = await store.get_cursors(MB)
    assert (empty.values, empty.etag) == ({}, None)
    book = await store.put_cursors(dataclasses.replace(empty, values={"contact.erp": "w1", "contact.mailbox": "d1"}))
    assert book.etag is not None
    with pytest.raises(AlreadyExists):
        await store.put_cursors(dataclasses.replace(empty, values={"task.erp": "x"}))  # created meanwhile
    again = await store.get_cursors(MB)
    assert (again.values, again.etag) == ({"contact.erp": "w1", "contact.mailbox": "d1"}, book.etag)
    # the by-name methods read and change the same book
    stored = await store.get_cursor(MB, "contact.erp")
    assert stored is not None and (stored.value, stored.etag) == ("w1", book.etag)
    await store.put_cursor(MB, "task.erp", "w2")
    with pytest.raises(ConcurrencyConflict):
        await store.put_cursors(dataclasses.replace(book, values={}))   # stale: the book changed
    await store.delete_cursor(MB, "contact.mailbox")
    final = await store.get_cursors(MB)
    assert final.values == {"contact.erp": "w1", "task.erp": "w2"}
    assert (await store.get_cursors("bob@contoso.com")).values == {}   # per mailbox


async def test_cursor_book_rejects_bad_names_and_oversized_books(store: StateStore) -> None:
    book = await store.get_cursors(MB)
    with pytest.raises(ValidationFailed):
        await store.put_cursors(dataclasses.replace(book, values={"n" * 9000: "x"}))
    with pytest.raises(ValidationFailed):
        await store.put_cursors(dataclasses.replace(book, values={"a": "x" * 600_000}))
    assert (await store.get_cursors(MB)).etag is None   # nothing half-written


async def test_table_cursor_book_adopts_per_name_rows_of_older_versions(
        azurite_connection_string: str, table_prefix: str, clock: Clock) -> None:
    from bench.stack import metered_store
    from shared.state import keys
    from shared.state import rows as tr

    async with AsyncTableServiceClient.from_connection_string(azurite_connection_string) as service:
        old = service.get_table_client(table_prefix + "cursors")
        for name, value in (("contact.erp", "w0"), ("contact.mailbox", "d0")):
            await old.create_entity(tr.with_text(tr.row(keys.key(MB), keys.key(name), mailbox=MB, name=name), value))
    store, meter = metered_store(azurite_connection_string, table_prefix)
    try:
        book = await store.get_cursors(MB)
        assert (book.values, book.etag) == ({"contact.erp": "w0", "contact.mailbox": "d0"}, None)
        assert meter.total == 1   # all cursors of the mailbox in one request
        stored = await store.put_cursors(dataclasses.replace(book, values={**book.values, "contact.erp": "w1"}))
        before = meter.total
        assert (await store.get_cursors(MB)).values == {"contact.erp": "w1", "contact.mailbox": "d0"}
        assert meter.total == before + 1
        await store.put_cursors(dataclasses.replace(stored, values={"contact.erp": "w2"}))
        assert (await store.get_cursors(MB)).values == {"contact.erp": "w2"}   # old rows gone for good
    finally:
        await store.aclose()
        await _empty_tables(azurite_connection_string, table_prefix)


def intent(intent_id: str, created_at: datetime, record_type: RecordType = CT) -> Intent:
    return Intent(mailbox=MB, record_type=record_type, intent_id=intent_id, target=Side.MAILBOX,
                  source_id="E-" + intent_id, stamp="stamp/" + intent_id, created_at=created_at)


async def test_intents_create_only_conditional_delete_and_purge(store: StateStore, clock: Clock) -> None:
    old = await store.put_intent(intent("i/1", clock.now() - timedelta(days=2)))
    new = await store.put_intent(intent("i#2", clock.now()))
    await store.put_intent(intent("i3", clock.now() - timedelta(days=3), RecordType.TASK))
    assert old.etag and new.etag
    with pytest.raises(AlreadyExists):
        await store.put_intent(intent("i/1", clock.now()))
    listed = await store.list_intents(MB, CT)
    assert sorted(i.intent_id for i in listed) == ["i#2", "i/1"]
    assert next(i for i in listed if i.intent_id == "i/1") == old
    replaced = await store.put_intent(dataclasses.replace(new, stamp="stamp-2"))
    with pytest.raises(ConcurrencyConflict):
        await store.delete_intent(new)
    assert await store.purge_intents(clock.now() - timedelta(days=1)) == 2
    assert [i.intent_id for i in await store.list_intents(MB, CT)] == ["i#2"]
    assert await store.list_intents(MB, RecordType.TASK) == []
    await store.delete_intent(replaced)
    assert await store.list_intents(MB, CT) == []


async def test_mailbox_intents_of_every_type_in_one_read(store: StateStore, clock: Clock) -> None:
    assert await store.list_mailbox_intents(MB) == []
    await store.put_intent(intent("c1", clock.now()))
    await store.put_intent(intent("t1", clock.now(), RecordType.TASK))
    await store.put_intent(dataclasses.replace(intent("o1", clock.now()), mailbox=MB + ".other"))
    await store.put_intent(dataclasses.replace(intent("p1", clock.now()), mailbox="x" + MB))
    found = await store.list_mailbox_intents(MB)
    assert sorted((i.record_type.value, i.intent_id) for i in found) == [("contact", "c1"), ("task", "t1")]


async def test_intents_of_a_page_are_written_and_deleted_together(store: StateStore, clock: Clock) -> None:
    many = [intent(f"p{n}", clock.now()) for n in range(130)]   # more than one transaction
    stored = await store.put_intents(many)
    assert [i.intent_id for i in stored] == [i.intent_id for i in many]
    assert len(await store.list_intents(MB, CT)) == 130
    with pytest.raises(AlreadyExists):
        await store.put_intents([intent("q1", clock.now()), intent("p5", clock.now())])
    assert "q1" not in {i.intent_id for i in await store.list_intents(MB, CT)}   # all or nothing
    with pytest.raises(ValidationFailed):
        await store.put_intents([intent("r1", clock.now()), intent("r2", clock.now(), RecordType.TASK)])
    await store.delete_intents([*stored[:100], intent("never-stored", clock.now())])
    assert sorted(i.intent_id for i in await store.list_intents(MB, CT)) == sorted(f"p{n}" for n in range(100, 130))
    await store.delete_intents(await store.list_intents(MB, CT))
    assert await store.list_intents(MB, CT) == []
    assert await store.put_intents([]) == []


async def test_status_round_trips_with_etags(store: StateStore, clock: Clock) -> None:
    status = MailboxStatus(
        email=MB, export_dates={CT: clock.now()}, import_dates={RecordType.EMAIL: clock.now() - timedelta(hours=1)},
        warning="client secret expires in 10 days",
        last_run=RunSummary(run_id="r1", state=RunState.SUCCEEDED, started_at=clock.now(),
                            finished_at=clock.now() + timedelta(seconds=3),
                            counts={"contact.erp": Counts(created=2, failed=1)}, message="ok"))
    etag = await store.put_status(status)
    with pytest.raises(AlreadyExists):
        await store.put_status(status)
    stored = await store.get_status(MB)
    assert stored is not None and stored.value == status and stored.etag == etag
    etag2 = await store.put_status(dataclasses.replace(status, warning=None), etag)
    with pytest.raises(ConcurrencyConflict):
        await store.put_status(status, etag)
    await store.put_status(MailboxStatus(email=MB), force=True)
    assert (await store.get_status(MB)).value == MailboxStatus(email=MB)
    assert etag2 != etag


async def test_documents_by_kind_key_and_prefix(store: StateStore) -> None:
    etag = await store.put_doc("subscription", "ann/contact", {"id": "s1", "expires": "2026-03-02"})
    await store.put_doc("subscription", "ann/event", {"id": "s2"})
    await store.put_doc("subscription", "bob/contact", {"id": "s3"})
    await store.put_doc("alert", "ann/contact", {"sent": True})
    with pytest.raises(AlreadyExists):
        await store.put_doc("subscription", "ann/contact", {})
    with pytest.raises(ConcurrencyConflict):
        await store.put_doc("subscription", "ann/contact", {}, "W/\"bogus\"")
    etag2 = await store.put_doc("subscription", "ann/contact", {"id": "s1b"}, etag)
    assert sorted(k for k, _ in await store.list_docs("subscription", "ann/")) == ["ann/contact", "ann/event"]
    assert len(await store.list_docs("subscription")) == 3
    got = dict(await store.list_docs("subscription", "ann/c"))
    assert got["ann/contact"].value == {"id": "s1b"} and got["ann/contact"].etag == etag2
    await store.put_doc("subscription", "ann/contact", {"id": "forced"}, force=True)
    await store.delete_doc("subscription", "ann/contact")
    await store.delete_doc("subscription", "ann/contact")
    assert await store.get_doc("subscription", "ann/contact") is None
    assert (await store.get_doc("alert", "ann/contact")).value == {"sent": True}


# ---------------------------------------------------------------- log


async def _read_all(store: StateStore, email: str, min_level: LogLevel | None, limit: int) -> list[LogEntry]:
    out: list[LogEntry] = []
    cursor: str | None = None
    while True:
        page = await store.list_log(email, min_level, limit, cursor)
        out.extend(e for e in page.items if isinstance(e, LogEntry))
        if page.complete:
            return out
        assert page.cursor is not None and len(page.items) == limit
        cursor = page.cursor


async def test_log_pages_newest_first_with_level_filter(store: StateStore, clock: Clock) -> None:
    levels = [LogLevel.VERBOSE, LogLevel.INFORMATIONAL, LogLevel.WARNING, LogLevel.ERROR]
    entries = [LogEntry(levels[i % 4], clock.now() - timedelta(minutes=30 - i), f"entry {i}",
                        CT if i % 2 else None) for i in range(30)]
    await store.append_log(MB, entries[:15])
    await store.append_log(MB, entries[15:])
    everything = await _read_all(store, MB, None, 7)
    assert everything == list(reversed(entries))
    warnings = await _read_all(store, MB, LogLevel.WARNING, 4)
    assert warnings == [e for e in reversed(entries) if e.level >= LogLevel.WARNING]
    assert await _read_all(store, "bob@contoso.com", None, 5) == []
    same_time = [LogEntry(LogLevel.ERROR, clock.now(), f"burst {i}") for i in range(120)]
    await store.append_log(MB, same_time)
    newest = await store.list_log(MB, LogLevel.ERROR, 3, None)
    assert [e.message for e in newest.items if isinstance(e, LogEntry)] == ["burst 119", "burst 118", "burst 117"]
    assert len(await _read_all(store, MB, None, 50)) == 150


async def test_concurrent_log_appends_never_collide(store: StateStore, clock: Clock) -> None:
    batches = [[LogEntry(LogLevel.WARNING, clock.now(), f"w{w}-{i}") for i in range(20)] for w in range(4)]
    await asyncio.gather(*(store.append_log(MB, b) for b in batches))
    assert len(await _read_all(store, MB, None, 100)) == 80


async def test_log_retention_hides_and_purge_deletes(store: StateStore, clock: Clock) -> None:
    old = LogEntry(LogLevel.ERROR, clock.now() - timedelta(days=31), "expired already")
    aging = LogEntry(LogLevel.ERROR, clock.now() - timedelta(days=20), "expires in 10 days")
    fresh = LogEntry(LogLevel.ERROR, clock.now(), "fresh", RecordType.EVENT)
    await store.append_log(MB, [old, aging, fresh])
    await store.append_log("bob@contoso.com", [fresh])
    assert await _read_all(store, MB, None, 10) == [fresh, aging]
    clock.advance(days=11)
    assert await _read_all(store, MB, None, 10) == [fresh]
    assert await store.purge_log(clock.now() - timedelta(days=365)) == 2
    assert await store.purge_log(clock.now()) == 2
    assert await _read_all(store, MB, None, 10) == []
    await store.append_log(MB, [LogEntry(LogLevel.WARNING, clock.now(), f"c{i}") for i in range(130)])
    assert await store.clear_log(MB) == 130
    assert await _read_all(store, MB, None, 10) == []


async def test_long_log_messages_are_clipped(store: StateStore, clock: Clock) -> None:
    await store.append_log(MB, [LogEntry(LogLevel.WARNING, clock.now(), "x" * 100_000)])
    (entry,) = await _read_all(store, MB, None, 5)
    assert entry.message.startswith("xxx") and entry.message.endswith("(truncated)")
    assert len(entry.message) <= 8000


# ---------------------------------------------------------------- leases


async def test_lease_is_exclusive_until_it_expires(store: StateStore, clock: Clock) -> None:
    key = "mailbox/ann@contoso.com"
    assert await store.acquire_lease(key, "w1", 60)
    assert not await store.acquire_lease(key, "w2", 60)
    assert not await store.renew_lease(key, "w2", 60)
    clock.advance(seconds=50)
    assert await store.renew_lease(key, "w1", 60)
    clock.advance(seconds=50)
    assert not await store.acquire_lease(key, "w2", 60)
    clock.advance(seconds=11)
    assert await store.acquire_lease(key, "w2", 60)
    assert not await store.renew_lease(key, "w1", 60)
    await store.release_lease(key, "w1")
    assert not await store.acquire_lease(key, "w1", 60)
    await store.release_lease(key, "w2")
    assert await store.acquire_lease(key, "w1", 60)
    with pytest.raises(ValidationFailed):
        await store.acquire_lease(key, "w1", 0)


async def test_purge_removes_only_expired_leases(store: StateStore, clock: Clock) -> None:
    assert await store.acquire_lease("short", "w1", 30)
    assert await store.acquire_lease("long", "w2", 600)
    assert await store.purge_leases() == 0
    clock.advance(seconds=31)
    assert await store.purge_leases() == 1
    assert not await store.acquire_lease("long", "w3", 60)  # still held
    assert await store.acquire_lease("short", "w3", 60)  # gone, free for anyone
    assert await store.purge_leases() == 0


async def test_concurrent_acquirers_one_wins(store: StateStore, clock: Clock) -> None:
    results = await asyncio.gather(*(store.acquire_lease("L", f"w{i}", 30) for i in range(5)))
    assert sum(results) == 1
    clock.advance(seconds=31)
    results = await asyncio.gather(*(store.acquire_lease("L", f"x{i}", 30) for i in range(5)))
    assert sum(results) == 1


async def test_oversized_plain_ids_are_rejected_naming_the_field(store: StateStore) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await store.put_doc("k", "x" * 9000, {})
    assert "key" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        await store.acquire_lease("L", "o" * 9000, 30)
    assert "owner" in caught.value.errors
    assert await store.acquire_lease("L", "o" * 7000, 30)


# ---------------------------------------------------------------- the tenant ERP feed


def routed(erp_id: str, version: str = "v1", *, mailbox: str = MB, record_type: RecordType = CT) -> RoutedChange:
    return RoutedChange(mailbox, record_type, erp_id, version)


async def test_feed_cursor_is_create_only_then_conditional(store: StateStore) -> None:
    assert await store.get_feed_cursor(CT) is None
    etag = await store.put_feed_cursor(CT, "w1")
    with pytest.raises(AlreadyExists):
        await store.put_feed_cursor(CT, "other")
    stored = await store.get_feed_cursor(CT)
    assert stored is not None and (stored.value, stored.etag) == ("w1", etag)
    new = await store.put_feed_cursor(CT, "w2", etag)
    with pytest.raises(ConcurrencyConflict):  # a second feed reader holding the old etag loses
        await store.put_feed_cursor(CT, "w3", etag)
    again = await store.get_feed_cursor(CT)
    assert again is not None and (again.value, again.etag) == ("w2", new)
    assert await store.get_feed_cursor(RecordType.TASK) is None
    await store.put_feed_cursor(RecordType.TASK, "t1")
    every = await store.list_feed_cursors()
    assert {t: c.value for t, c in every.items()} == {CT: "w2", RecordType.TASK: "t1"}
    assert every[CT].etag == new


async def test_routed_changes_upsert_per_record_and_list_per_mailbox_and_type(store: StateStore) -> None:
    await store.put_routed([routed(f"id{n:03d}") for n in range(130)]  # two transactions
                           + [routed("id001", "v2"), routed("other", mailbox="bob@contoso.test"),
                              routed("task1", record_type=RecordType.TASK)])
    first = await store.list_routed(MB, CT, 1000)
    assert [c.erp_id for c in first] == [f"id{n:03d}" for n in range(130)]
    assert {c.erp_id: c.version for c in first}["id001"] == "v2"   # the newer version replaced the row
    assert all(c.etag and c.mailbox == MB for c in first)
    assert [c.erp_id for c in await store.list_routed(MB, CT, 5)] == [f"id{n:03d}" for n in range(5)]
    assert [c.erp_id for c in await store.list_routed(MB, CT, 3, after="id004")] == ["id005", "id006", "id007"]
    assert await store.list_routed(MB, CT, 3, after="id129") == []
    assert [c.erp_id for c in await store.list_routed("Bob@Contoso.test", CT, 10)] == ["other"]
    assert [c.erp_id for c in await store.list_routed(MB, RecordType.TASK, 10)] == ["task1"]
    every = await store.list_mailbox_routed(MB, 1000)  # all types in one query: contacts, then tasks
    assert [(c.record_type, c.erp_id) for c in every] == [(CT, f"id{n:03d}") for n in range(130)] + [
        (RecordType.TASK, "task1")]
    assert len(await store.list_mailbox_routed(MB, 7)) == 7
    assert await store.list_mailbox_routed("nobody@contoso.test", 10) == []


async def test_delete_routed_keeps_a_change_routed_again_since_it_was_listed(store: StateStore) -> None:
    await store.put_routed([routed("a"), routed("b"), routed("c")])
    listed = await store.list_routed(MB, CT, 10)
    await store.put_routed([routed("b", "v2")])  # the feed routes a newer version meanwhile
    await store.delete_routed(listed)
    left = await store.list_routed(MB, CT, 10)
    assert [(c.erp_id, c.version) for c in left] == [("b", "v2")]
    await store.delete_routed(left + listed)  # already gone rows are no error
    assert await store.list_routed(MB, CT, 10) == []


async def test_routed_changes_reject_bad_input_naming_the_field(store: StateStore) -> None:
    with pytest.raises(ValidationFailed) as bad:
        await store.put_routed([routed("a"), routed("b", "")])
    assert "changes[1]" in bad.value.errors
    with pytest.raises(ValidationFailed) as limit:
        await store.list_routed(MB, CT, 0)
    assert "limit" in limit.value.errors
    assert await store.list_routed(MB, CT, 10) == []  # nothing of the bad batch was written
