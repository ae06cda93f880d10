"""Contract suite of the MailboxGateway port: the in-memory twin and the Graph gateway over HTTP.

Every test runs twice: against ``InMemoryMailboxGateway`` and against ``GraphMailboxGateway``
talking to the Graph simulator (``sim.graph``) through msgraph-sdk. Only behaviour the engine
relies on is asserted, so both must agree.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kiota_http.middleware.options import RetryHandlerOption

from devhost.services import Simulator
from shared.domain.records import (
    Attachment,
    Attendee,
    Contact,
    EmailMessage,
    Event,
    Importance,
    Record,
    RecordType,
    Task,
    TaskStatus,
)
from shared.errors import ConcurrencyConflict, NotFound, SyncStateLost
from shared.graph.gateway import GraphMailboxGateway
from shared.graph.memory import InMemoryMailboxGateway
from shared.ports import AttachmentContent, MailboxGateway, MailboxItem, MailboxWrite, Removed, WriteKind
from tests.graph.simulator import admin, fresh, graph_simulator

MAILBOX = "ann@contoso.test"
OTHER = "bob@contoso.test"


# ---------------------------------------------------------------------- harness


@dataclasses.dataclass
class Harness:
    """A gateway under test plus how to expire its delta cursors."""

    kind: str
    gateway: MailboxGateway
    sim: Simulator | None = None

    async def expire_cursors(self, container: str) -> None:
        if isinstance(self.gateway, InMemoryMailboxGateway):
            self.gateway.invalidate_cursors(MAILBOX, container)
        else:
            assert self.sim is not None
            admin(self.sim, "POST", "/_sim/faults",
                  {"path": "delta", "method": "GET", "status": 410, "count": 1})

    async def master_categories(self) -> list[tuple[str, str]]:
        """(name, colour) of every category in the mailbox's master list, read from that side itself."""
        if isinstance(self.gateway, InMemoryMailboxGateway):
            return list(self.gateway._categories.get(MAILBOX, {}).items())
        assert self.sim is not None
        async with httpx.AsyncClient(base_url=self.sim.base_url, timeout=10) as client:
            resp = await client.get(f"/v1.0/users/{MAILBOX}/outlook/masterCategories",
                                    headers={"Authorization": "Bearer test"})
        assert resp.status_code == 200, resp.text
        return [(c["displayName"], c["color"]) for c in resp.json()["value"]]


@pytest.fixture(params=["memory", "graph"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield Harness("memory", InMemoryMailboxGateway())
        return
    sim = graph_simulator()
    fresh(sim)
    gateway = GraphMailboxGateway.create(None, f"{sim.base_url}/v1.0",
                                         retry=RetryHandlerOption(delay=0, max_retries=2))
    try:
        yield Harness("graph", gateway, sim)
    finally:
        await gateway.aclose()


# ---------------------------------------------------------------------- sample records

T0 = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2)


def sample(record_type: RecordType, n: int = 1) -> Record:
    if record_type is RecordType.CONTACT:
        return Contact(first_name=f"Pat{n}", last_name="Doe", email=f"pat{n}@fabrikam.test",
                       company="Fabrikam", job_title="Buyer", business_phone="+1 425 555 0100",
                       mobile_phone="+1 425 555 0101", street="1 Main St", city="Redmond",
                       state="WA", postal_code="98052", country="United States", notes="met at fair")
    if record_type is RecordType.EMAIL:
        return EmailMessage(subject=f"Quote {n}", body="Please find the quote.",
                            from_address="pat@fabrikam.test", to=(MAILBOX,),
                            sent_at=T0 - timedelta(days=3), incoming=True)
    if record_type is RecordType.TASK:
        return Task(title=f"Call back {n}", body="about the quote", status=TaskStatus.IN_PROGRESS,
                    importance=Importance.HIGH, due_at=T0)
    return Event(subject=f"Review {n}", body="agenda", start=T0, end=T0 + timedelta(hours=1),
                 location="Room 1", organizer=MAILBOX,
                 attendees=(Attendee("pat@fabrikam.test", "Pat", True),))


def same_content(record_type: RecordType, got: Record, want: Record) -> None:
    """Fields both sides keep must round-trip (normalized)."""
    g, w = got.normalized().as_dict(), want.normalized().as_dict()
    if record_type is RecordType.EMAIL:
        keys = ["subject", "body", "from_address", "to", "incoming"]
    elif record_type is RecordType.EVENT:
        keys = ["subject", "body", "start", "end", "all_day", "location", "attendees"]
    else:
        keys = list(w)
    assert {k: g[k] for k in keys} == {k: w[k] for k in keys}


def create(record_type: RecordType, container: str, n: int = 1, *, stamp: str | None = None,
           categories: tuple[str, ...] = ()) -> MailboxWrite:
    return MailboxWrite(WriteKind.CREATE, record_type, container, record=sample(record_type, n),
                        stamp=stamp, categories=categories)


async def created(h: Harness, write: MailboxWrite) -> MailboxItem[Any]:
    [result] = await h.gateway.apply(MAILBOX, [write])
    assert result.ok, result.error
    assert result.item is not None
    return result.item


async def drain(h: Harness, record_type: RecordType, container: str, cursor: str | None,
                page_size: int = 50) -> tuple[list[MailboxItem[Any] | Removed], str]:
    """Every entry of a listing from ``cursor`` to its end, and the next-run cursor."""
    entries: list[MailboxItem[Any] | Removed] = []
    for _ in range(100):
        page = await h.gateway.list_changes(MAILBOX, record_type, container, cursor, page_size)
        entries += page.items
        cursor = page.cursor
        if page.complete:
            assert cursor is not None
            return entries, cursor
    raise AssertionError("listing never completed")


ALL_TYPES = [RecordType.CONTACT, RecordType.EMAIL, RecordType.TASK, RecordType.EVENT]


# ---------------------------------------------------------------------- tests


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_ensure_container_is_stable_per_name(harness: Harness, record_type: RecordType) -> None:
    first = await harness.gateway.ensure_container(MAILBOX, record_type, "ERP Sync")
    again = await harness.gateway.ensure_container(MAILBOX, record_type, "ERP Sync")
    other = await harness.gateway.ensure_container(MAILBOX, record_type, "ERP Other")
    default = await harness.gateway.ensure_container(MAILBOX, record_type, None)
    assert first == again
    assert len({first, other, default}) == 3


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_create_round_trips_content_stamp_and_categories(harness: Harness,
                                                               record_type: RecordType) -> None:
    await harness.gateway.ensure_category(MAILBOX, "ERP", "preset7")
    container = await harness.gateway.ensure_container(MAILBOX, record_type, "ERP")
    item = await created(harness, create(record_type, container, stamp="erp-1", categories=("ERP",)))
    assert item.id and item.etag
    assert item.stamp == "erp-1"
    assert item.categories == ("ERP",)
    same_content(record_type, item.record, sample(record_type))

    fetched = await harness.gateway.get(MAILBOX, record_type, container, item.id)
    assert fetched is not None
    assert (fetched.id, fetched.etag, fetched.stamp, fetched.categories) == (
        item.id, item.etag, "erp-1", ("ERP",))
    same_content(record_type, fetched.record, sample(record_type))


@pytest.mark.parametrize("record_type", [RecordType.CONTACT, RecordType.TASK, RecordType.EVENT])
async def test_update_is_conditional_per_write(harness: Harness, record_type: RecordType) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, record_type, None)
    one = await created(harness, create(record_type, container, 1))
    two = await created(harness, create(record_type, container, 2))
    changed = sample(record_type, 3)
    fresh = MailboxWrite(WriteKind.UPDATE, record_type, container, record=changed,
                         item_id=one.id, etag=one.etag)
    results = await harness.gateway.apply(MAILBOX, [
        fresh,
        MailboxWrite(WriteKind.UPDATE, record_type, container, record=changed, item_id=two.id,
                     etag=one.etag if one.etag != two.etag else 'W/"stale"'),
    ])
    assert [r.ok for r in results] == [True, False]
    assert isinstance(results[1].error, ConcurrencyConflict)
    updated = results[0].item
    assert updated is not None and updated.id == one.id and updated.etag != one.etag
    same_content(record_type, updated.record, changed)

    # the first etag is stale now
    [stale] = await harness.gateway.apply(MAILBOX, [fresh])
    assert isinstance(stale.error, ConcurrencyConflict)
    untouched = await harness.gateway.get(MAILBOX, record_type, container, two.id)
    assert untouched is not None
    same_content(record_type, untouched.record, sample(record_type, 2))


async def test_writes_to_missing_items_fail_alone(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.CONTACT, None)
    live = await created(harness, create(RecordType.CONTACT, container))
    gone = await created(harness, create(RecordType.CONTACT, container, 2))
    [deleted] = await harness.gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.DELETE, RecordType.CONTACT, container, item_id=gone.id, etag=gone.etag)])
    assert deleted.ok and deleted.item is None
    results = await harness.gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.UPDATE, RecordType.CONTACT, container, record=sample(RecordType.CONTACT, 5),
                     item_id=gone.id),
        MailboxWrite(WriteKind.UPDATE, RecordType.CONTACT, container, record=sample(RecordType.CONTACT, 6),
                     item_id=live.id, etag=live.etag),
    ])
    assert isinstance(results[0].error, NotFound)
    assert results[1].ok
    assert await harness.gateway.get(MAILBOX, RecordType.CONTACT, container, gone.id) is None


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_delta_pages_everything_then_reports_changes_and_removals(harness: Harness,
                                                                        record_type: RecordType) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, record_type, "Delta")
    ids = [(await created(harness, create(record_type, container, n))).id for n in range(7)]

    first = await harness.gateway.list_changes(MAILBOX, record_type, container, None, 3)
    assert len(first.items) <= 3 and not first.complete  # the page size reaches the server
    rest, cursor = await drain(harness, record_type, container, first.cursor, page_size=3)
    entries = [*first.items, *rest]
    listed = {e.id for e in entries if isinstance(e, MailboxItem)}
    assert listed == set(ids)
    assert not [e for e in entries if isinstance(e, Removed)]

    quiet, cursor = await drain(harness, record_type, container, cursor)
    assert not [e for e in quiet if isinstance(e, MailboxItem)]

    added = await created(harness, create(record_type, container, 9))
    [removed] = await harness.gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.DELETE, record_type, container, item_id=ids[0])])
    assert removed.ok
    changes, _ = await drain(harness, record_type, container, cursor)
    assert added.id in {e.id for e in changes if isinstance(e, MailboxItem)}
    assert ids[0] in {e.id for e in changes if isinstance(e, Removed)}
    assert ids[0] not in {e.id for e in changes if isinstance(e, MailboxItem)}


async def test_expired_cursor_raises_sync_state_lost(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.CONTACT, None)
    await created(harness, create(RecordType.CONTACT, container))
    _, cursor = await drain(harness, RecordType.CONTACT, container, None)
    await harness.expire_cursors(container)
    with pytest.raises(SyncStateLost):
        await harness.gateway.list_changes(MAILBOX, RecordType.CONTACT, container, cursor, 10)


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_find_by_stamp(harness: Harness, record_type: RecordType) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, record_type, "Stamped")
    await created(harness, create(record_type, container, 1, stamp="erp-a"))
    wanted = await created(harness, create(record_type, container, 2, stamp="erp-b"))
    found = await harness.gateway.find_by_stamp(MAILBOX, record_type, container, "erp-b")
    assert found is not None and found.id == wanted.id and found.stamp == "erp-b"
    assert await harness.gateway.find_by_stamp(MAILBOX, record_type, container, "erp-zz") is None


async def test_find_message_by_internet_message_id(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.EMAIL, "ERP")
    item = await created(harness, create(RecordType.EMAIL, container))
    assert isinstance(item.record, EmailMessage) and item.record.internet_message_id
    found = await harness.gateway.find_message(MAILBOX, item.record.internet_message_id)
    assert found is not None and found.id == item.id
    assert await harness.gateway.find_message(MAILBOX, "<nobody@nowhere.test>") is None


async def test_messages_carry_their_conversation_id(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.EMAIL, "ERP")
    await created(harness, create(RecordType.EMAIL, container, 1))
    await created(harness, create(RecordType.EMAIL, container, 2))
    listed, _ = await drain(harness, RecordType.EMAIL, container, None)
    conversations = [e.conversation_id for e in listed if isinstance(e, MailboxItem)]
    assert len(conversations) == 2 and all(conversations) and len(set(conversations)) == 2
    folder = await harness.gateway.ensure_container(MAILBOX, RecordType.CONTACT, "ERP")
    await created(harness, create(RecordType.CONTACT, folder))
    contacts, _ = await drain(harness, RecordType.CONTACT, folder, None)
    assert [e.conversation_id for e in contacts if isinstance(e, MailboxItem)] == [""]


async def test_send_lands_in_sent_items(harness: Harness) -> None:
    sent_items = await harness.gateway.ensure_container(MAILBOX, RecordType.EMAIL, "sentitems")
    _, cursor = await drain(harness, RecordType.EMAIL, sent_items, None)
    message = EmailMessage(subject="Your order", body="shipped", from_address=MAILBOX,
                           to=("pat@fabrikam.test",), incoming=False)
    [result] = await harness.gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.SEND, RecordType.EMAIL, sent_items, record=message, stamp="erp-mail")])
    assert result.ok, result.error
    changes, _ = await drain(harness, RecordType.EMAIL, sent_items, cursor)
    sent = [e for e in changes if isinstance(e, MailboxItem)]
    assert [s.record.subject for s in sent] == ["Your order"]
    assert sent[0].record.incoming is False
    assert sent[0].record.to == ("pat@fabrikam.test",)
    assert sent[0].stamp == "erp-mail"
    found = await harness.gateway.find_by_stamp(MAILBOX, RecordType.EMAIL, sent_items, "erp-mail")
    assert found is not None and found.id == sent[0].id


async def test_attachments_are_written_and_read_up_to_a_size(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.EMAIL, "ERP")
    small, large = b"small file" * 10, bytes(range(256)) * 40

    def file(name: str, content: bytes) -> AttachmentContent:
        return AttachmentContent(Attachment(name, len(content), "application/octet-stream",
                                            hashlib.sha256(content).hexdigest()), content)

    write = dataclasses.replace(create(RecordType.EMAIL, container),
                                files=(file("a.txt", small), file("b.bin", large)))
    item = await created(harness, write)
    everything = await harness.gateway.read_attachments(MAILBOX, item.id, 1 << 20)
    assert sorted((f.meta.name, f.content) for f in everything) == [("a.txt", small), ("b.bin", large)]
    only_small = await harness.gateway.read_attachments(MAILBOX, item.id, len(small))
    assert [f.meta.name for f in only_small] == ["a.txt"]


async def test_cancel_removes_the_event(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.EVENT, None)
    event = await created(harness, create(RecordType.EVENT, container))
    [result] = await harness.gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.CANCEL, RecordType.EVENT, container, item_id=event.id)])
    assert result.ok, result.error
    assert await harness.gateway.get(MAILBOX, RecordType.EVENT, container, event.id) is None


async def test_ensure_category_is_idempotent(harness: Harness) -> None:
    await harness.gateway.ensure_category(MAILBOX, "ERP", "preset7")
    await harness.gateway.ensure_category(MAILBOX, "ERP", "preset7")
    await harness.gateway.ensure_category(MAILBOX, "Customers", "none")
    master = await harness.master_categories()
    assert [c for c in master if c[0] == "ERP"] == [("ERP", "preset7")]
    assert ("Customers", "none") in master


async def test_update_keeps_categories_when_none_given_and_restamps(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.CONTACT, None)
    item = await created(harness, create(RecordType.CONTACT, container, stamp="erp-1", categories=("ERP",)))
    [result] = await harness.gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.UPDATE, RecordType.CONTACT, container, record=sample(RecordType.CONTACT, 4),
                     item_id=item.id, etag=item.etag, stamp="erp-2")])
    assert result.ok and result.item is not None
    fetched = await harness.gateway.get(MAILBOX, RecordType.CONTACT, container, item.id)
    assert fetched is not None
    assert fetched.categories == ("ERP",)
    assert fetched.stamp == "erp-2"


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_listing_without_stamps_then_fill_stamps_gives_the_same_stamps(harness: Harness,
                                                                             record_type: RecordType) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, record_type, "ERP")
    stamped = await created(harness, create(record_type, container, 1, stamp="erp-f"))
    plain = await created(harness, create(record_type, container, 2))
    page = await harness.gateway.list_changes(MAILBOX, record_type, container, None, 50, stamps=False)
    items = [e for e in page.items if isinstance(e, MailboxItem)]
    assert {i.id for i in items} == {stamped.id, plain.id}
    want = {stamped.id: "erp-f", plain.id: None}
    assert all(i.stamp == want[i.id] for i in items if i.stamp_known)   # known or unknown, never wrong
    filled = await harness.gateway.fill_stamps(MAILBOX, record_type, container, items)
    assert [i.id for i in filled] == [i.id for i in items] and all(i.stamp_known for i in filled)
    assert {i.id: i.stamp for i in filled} == want
    [known] = await harness.gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, record_type, container, record=sample(record_type, 3), item_id=stamped.id,
        known_stamp="erp-f")])
    assert known.ok and known.item is not None and known.item.stamp == "erp-f"


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_listings_and_updates_carry_the_stamp(harness: Harness, record_type: RecordType) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, record_type, "ERP")
    stamped = await created(harness, create(record_type, container, 1, stamp="erp-s"))
    plain = await created(harness, create(record_type, container, 2))
    entries, _ = await drain(harness, record_type, container, None)
    stamps = {e.id: e.stamp for e in entries if isinstance(e, MailboxItem)}
    assert stamps == {stamped.id: "erp-s", plain.id: None}

    [kept] = await harness.gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, record_type, container, record=sample(record_type, 1), item_id=stamped.id,
        etag=stamped.etag, categories=("ERP",))])
    assert kept.ok, kept.error
    assert kept.item is not None and kept.item.stamp == "erp-s"


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_empty_stamp_unstamps_and_a_new_one_restamps(harness: Harness, record_type: RecordType) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, record_type, "ERP")
    item = await created(harness, create(record_type, container, 1, stamp="erp-old"))
    [cleared] = await harness.gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, record_type, container, item_id=item.id, etag=item.etag, stamp="")])
    assert cleared.ok, cleared.error
    assert cleared.item is not None and cleared.item.stamp is None
    assert await harness.gateway.find_by_stamp(MAILBOX, record_type, container, "erp-old") is None
    fetched = await harness.gateway.get(MAILBOX, record_type, container, item.id)
    assert fetched is not None and fetched.stamp is None
    same_content(record_type, fetched.record, sample(record_type, 1))

    [restamped] = await harness.gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, record_type, container, item_id=item.id, etag=cleared.item.etag, stamp="erp-new")])
    assert restamped.ok, restamped.error
    found = await harness.gateway.find_by_stamp(MAILBOX, record_type, container, "erp-new")
    assert found is not None and found.id == item.id and found.stamp == "erp-new"


async def test_event_moved_far_ahead_is_a_change_not_a_removal(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.EVENT, None)
    event = await created(harness, create(RecordType.EVENT, container))
    _, cursor = await drain(harness, RecordType.EVENT, container, None)
    far = T0 + timedelta(days=3 * 365)  # beyond any calendarView window the gateway reads
    moved = dataclasses.replace(sample(RecordType.EVENT), start=far, end=far + timedelta(hours=1))
    [result] = await harness.gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, RecordType.EVENT, container, record=moved, item_id=event.id, etag=event.etag)])
    assert result.ok, result.error
    changes, _ = await drain(harness, RecordType.EVENT, container, cursor)
    assert event.id not in {e.id for e in changes if isinstance(e, Removed)}
    assert [e.record.start for e in changes if isinstance(e, MailboxItem) and e.id == event.id] == [far]


@pytest.mark.parametrize("record_type", ALL_TYPES)
async def test_existing_ids_are_the_ids_get_finds_in_the_container(harness: Harness,
                                                                   record_type: RecordType) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, record_type, "Checked")
    elsewhere = await harness.gateway.ensure_container(MAILBOX, record_type, "Elsewhere")
    live = [await created(harness, create(record_type, container, n)) for n in (1, 2)]
    gone = await created(harness, create(record_type, container, 3))
    other = await created(harness, create(record_type, elsewhere, 4))
    [deleted] = await harness.gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.DELETE, record_type, container, item_id=gone.id, etag=gone.etag)])
    assert deleted.ok
    ids = [live[0].id, gone.id, other.id, live[1].id, "AAMkAGnever-there"]
    found = await harness.gateway.existing_ids(MAILBOX, record_type, container, ids)
    assert found == {live[0].id, live[1].id}
    for item_id in ids:  # the same answer as get, id by id
        assert (await harness.gateway.get(MAILBOX, record_type, container, item_id) is not None) \
            == (item_id in found)
    assert await harness.gateway.existing_ids(MAILBOX, record_type, container, []) == set()


async def test_existing_ids_over_more_than_one_batch(harness: Harness) -> None:
    container = await harness.gateway.ensure_container(MAILBOX, RecordType.CONTACT, None)
    live = [await created(harness, create(RecordType.CONTACT, container, n)) for n in (1, 2)]
    missing = [f"AAMkAGmissing-{n:02d}" for n in range(23)]
    ids = [missing[0], live[0].id, *missing[1:], live[1].id]  # 25 ids: two $batch requests
    assert await harness.gateway.existing_ids(MAILBOX, RecordType.CONTACT, container, ids) == \
        {live[0].id, live[1].id}
