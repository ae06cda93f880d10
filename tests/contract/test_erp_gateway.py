"""ErpGateway contract: the in-memory twin and the Acumatica gateway (simulator over HTTP) agree.

Every test runs against both; "the ERP user" (the harness) edits records behind the gateway's back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devhost.services import Simulator
from shared.domain.config import ContactFilter
from shared.domain.records import (
    Attendee,
    Contact,
    EmailMessage,
    Event,
    Importance,
    RecordType,
    Task,
    TaskStatus,
)
from shared.errors import ConcurrencyConflict, NotFound
from shared.ports import AttachmentContent, ErpItem, ErpScope, ErpWrite, Removed, WriteKind
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import AcumaticaHarness, ErpHarness, MemoryHarness, push_receiver, reset_simulator

EP1, EP2 = "EP00000001", "EP00000002"
OWNER_SCOPE = ErpScope(employee_id=EP1, email="ann@example.com")
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", "acumatica"])
async def erp(request: pytest.FixtureRequest) -> AsyncIterator[ErpHarness]:
    if request.param == "memory":
        yield MemoryHarness()
        return
    sim: Simulator = request.getfixturevalue("acumatica_sim")
    await reset_simulator(sim.base_url)
    async with push_receiver(sim.base_url) as rec:
        harness = AcumaticaHarness(sim.base_url, rec)
        try:
            yield harness
        finally:
            await harness.aclose()


def contact(n: int, **changes: Any) -> Contact:
    base = Contact(first_name=f"First{n}", last_name=f"Last{n}", email=f"person{n}@example.com",
                   company="Contoso", job_title="Buyer", business_phone="+1 555 0100", mobile_phone="+1 555 0101",
                   web_page="https://contoso.example", street="1 Main St", city="Springfield", state="IL",
                   postal_code="62701", country="US", notes="met at the fair")
    return base.with_fields(changes)  # type: ignore[no-any-return]


async def create(erp: ErpHarness, record_type: RecordType, record: Any, **kw: Any) -> ErpItem[Any]:
    [result] = await erp.gateway.apply([ErpWrite(WriteKind.CREATE, record_type, record=record, **kw)])
    assert result.ok, result.error
    assert result.item is not None
    return result.item


async def drain(erp: ErpHarness, record_type: RecordType, scope: ErpScope, cursor: str | None,
                page_size: int = 50) -> tuple[list[ErpItem[Any] | Removed], str | None]:
    items: list[ErpItem[Any] | Removed] = []
    while True:
        page = await erp.gateway.list_changes(record_type, scope, cursor, page_size)
        items.extend(page.items)
        cursor = page.cursor
        if page.complete:
            return items, cursor


def ids(items: list[ErpItem[Any] | Removed]) -> list[str]:
    return [i.id for i in items if isinstance(i, ErpItem)]


def removed(items: list[ErpItem[Any] | Removed]) -> list[str]:
    return [i.id for i in items if isinstance(i, Removed)]


async def test_contact_round_trip_with_origin_owner_and_class(erp: ErpHarness) -> None:
    item = await create(erp, RecordType.CONTACT, contact(1), owner=EP1, contact_class="LEAD", origin="mbx:1")
    assert item.owner == EP1 and item.contact_class == "LEAD" and item.origin == "mbx:1"
    got = await erp.gateway.get(RecordType.CONTACT, item.id)
    assert got is not None
    assert got.record.normalized() == contact(1).normalized()
    assert got.version == item.version
    found = await erp.gateway.find_by_origin(RecordType.CONTACT, "mbx:1")
    assert found is not None and found.id == item.id
    assert await erp.gateway.find_by_origin(RecordType.CONTACT, "mbx:2") is None
    by_mail = await erp.gateway.find_contact_by_email("PERSON1@example.com ")
    assert by_mail is not None and by_mail.id == item.id
    assert await erp.gateway.find_contact_by_email("nobody@example.com") is None


async def test_conditional_update_and_delete(erp: ErpHarness) -> None:
    item = await create(erp, RecordType.CONTACT, contact(2), owner=EP1)
    [ok] = await erp.gateway.apply([ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(2, city="Oslo"),
                                             item_id=item.id, version=item.version)])
    assert ok.ok and ok.item is not None
    assert ok.item.version != item.version and ok.item.modified_at > item.modified_at
    assert ok.item.record.city == "Oslo"
    stale_update, stale_delete = await erp.gateway.apply([
        ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(2, city="Rome"), item_id=item.id,
                 version=item.version),
        ErpWrite(WriteKind.DELETE, RecordType.CONTACT, item_id=item.id, version=item.version)])
    assert isinstance(stale_update.error, ConcurrencyConflict)
    assert isinstance(stale_delete.error, ConcurrencyConflict)
    got = await erp.gateway.get(RecordType.CONTACT, item.id)
    assert got is not None and got.record.city == "Oslo"
    [deleted] = await erp.gateway.apply([ErpWrite(WriteKind.DELETE, RecordType.CONTACT, item_id=item.id,
                                                  version=ok.item.version)])
    assert deleted.ok
    assert await erp.gateway.get(RecordType.CONTACT, item.id) is None
    [missing] = await erp.gateway.apply([ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(2),
                                                  item_id=item.id)])
    assert isinstance(missing.error, NotFound)


async def test_errors_are_scoped_to_their_write(erp: ErpHarness) -> None:
    results = await erp.gateway.apply([
        ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(3),
                 item_id="00000000-0000-0000-0000-00000000dead"),
        ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=contact(4), owner=EP1)])
    assert isinstance(results[0].error, NotFound)
    assert results[1].ok and results[1].item is not None
    assert results[1].item.record.email == "person4@example.com"


async def test_list_changes_in_owner_scope_with_watermark(erp: ErpHarness) -> None:
    mine = [await erp.create(RecordType.CONTACT, contact(n), owner=EP1) for n in range(5)]
    theirs = await erp.create(RecordType.CONTACT, contact(9), owner=EP2)
    first, cursor = await drain(erp, RecordType.CONTACT, OWNER_SCOPE, None, page_size=2)
    assert sorted(ids(first)) == sorted(mine) and theirs not in ids(first)
    assert not set(removed(first)) & set(mine)   # out-of-scope ids may be reported as removed
    again, cursor = await drain(erp, RecordType.CONTACT, OWNER_SCOPE, cursor)
    assert again == []
    await erp.update(RecordType.CONTACT, mine[1], contact(1, city="Paris"))
    await erp.update(RecordType.CONTACT, mine[3], owner=EP2)            # leaves the scope
    await erp.delete(RecordType.CONTACT, mine[4])
    changed, cursor = await drain(erp, RecordType.CONTACT, OWNER_SCOPE, cursor)
    assert ids(changed) == [mine[1]]
    [paris] = [i for i in changed if isinstance(i, ErpItem)]
    assert paris.record.city == "Paris"
    assert {mine[3], mine[4]} <= set(removed(changed))
    assert mine[1] not in removed(changed)
    quiet, _ = await drain(erp, RecordType.CONTACT, OWNER_SCOPE, cursor)
    assert ids(quiet) == []


async def test_list_ids_in_scope(erp: ErpHarness) -> None:
    mine = {await erp.create(RecordType.CONTACT, contact(n), owner=EP1) for n in range(5)}
    await erp.create(RecordType.CONTACT, contact(7), owner=EP2)
    seen: list[str] = []
    cursor = None
    while True:
        page = await erp.gateway.list_ids(RecordType.CONTACT, OWNER_SCOPE, cursor, 2)
        seen.extend(page.items)
        cursor = page.cursor
        if page.complete:
            break
    assert sorted(seen) == sorted(mine)
    everyone = ErpScope(employee_id=EP1, email="ann@example.com", contact_filter=ContactFilter.ALL)
    page = await erp.gateway.list_ids(RecordType.CONTACT, everyone, None, 100)
    assert len(page.items) == 6 and page.complete


async def test_email_linked_to_contact_with_attachments(erp: ErpHarness) -> None:
    person = await create(erp, RecordType.CONTACT, contact(5), owner=EP1)
    files = (AttachmentContent(_meta("notes.txt", b"hello"), b"hello"),
             AttachmentContent(_meta("big.bin", b"x" * 2048), b"x" * 2048))
    email = EmailMessage(subject="Quote", body="<p>Our offer</p>", from_address="person5@example.com",
                         to=("ann@example.com",), cc=("boss@example.com",), bcc=("audit@example.com",),
                         sent_at=T0, incoming=True, internet_message_id="<abc@example.com>",
                         attachments=tuple(f.meta for f in files))
    item = await create(erp, RecordType.EMAIL, email, owner=EP1, related_contacts=(person.id,),
                        origin="msg:1", files=files)
    assert item.related_contacts == (person.id,)
    got = await erp.gateway.get(RecordType.EMAIL, item.id)
    assert got is not None and got.record.normalized() == email.normalized()
    found = await erp.gateway.find_email_by_message_id("<abc@example.com>")
    assert found is not None and found.id == item.id
    assert await erp.gateway.find_email_by_message_id("<other@example.com>") is None
    by_origin = await erp.gateway.find_by_origin(RecordType.EMAIL, "msg:1")
    assert by_origin is not None and by_origin.id == item.id
    small = await erp.gateway.read_attachments(RecordType.EMAIL, item.id, 1024)
    assert [(f.meta.name, f.content) for f in small] == [("notes.txt", b"hello")]
    scope = ErpScope(employee_id=EP2, email="BOSS@example.com")
    listed, _ = await drain(erp, RecordType.EMAIL, scope, None)
    assert ids(listed) == [item.id]
    nobody = ErpScope(employee_id=EP2, email="nobody@example.com")
    assert ids((await drain(erp, RecordType.EMAIL, nobody, None))[0]) == []


async def test_an_email_related_to_another_record_has_that_one_relation(erp: ErpHarness) -> None:
    """``related_record`` (a reply following its filed conversation) replaces the contacts: one
    relation per activity, as Acumatica keeps it; a relation to a non-contact reads back as none."""
    first = await create(erp, RecordType.CONTACT, contact(6), owner=EP1)
    second = await create(erp, RecordType.CONTACT, contact(7), owner=EP1)
    email = EmailMessage(subject="RE: Quote", from_address="person6@example.com", to=("ann@example.com",),
                         sent_at=T0, internet_message_id="<reply@example.com>")
    item = await create(erp, RecordType.EMAIL, email, owner=EP1, related_contacts=(first.id,),
                        related_record=("contact", second.id), origin="msg:reply")
    got = await erp.gateway.get(RecordType.EMAIL, item.id)
    assert item.related_contacts == (second.id,) and got is not None and got.related_contacts == (second.id,)
    await erp.delete(RecordType.CONTACT, second.id)  # the filed record is gone: the e-mail's contacts
    orphan = await create(erp, RecordType.EMAIL, email, owner=EP1, related_contacts=(first.id,),
                          related_record=("contact", second.id), origin="msg:reply-2")
    assert orphan.related_contacts == (first.id,)


async def test_task_fields_and_status(erp: ErpHarness) -> None:
    task = Task(title="Call back", body="about the quote", status=TaskStatus.IN_PROGRESS,
                importance=Importance.HIGH, start_at=T0, due_at=datetime(2026, 3, 5, 17, tzinfo=UTC))
    item = await create(erp, RecordType.TASK, task, owner=EP1, origin="task:1")
    got = await erp.gateway.get(RecordType.TASK, item.id)
    assert got is not None and got.record.normalized() == task.normalized() and got.owner == EP1
    done = task.with_fields({"status": TaskStatus.COMPLETED, "completed_at": datetime(2026, 3, 4, tzinfo=UTC)})
    [result] = await erp.gateway.apply([ErpWrite(WriteKind.UPDATE, RecordType.TASK, record=done,
                                                 item_id=item.id, version=item.version)])
    assert result.ok and result.item is not None
    assert result.item.record.normalized() == done.normalized()
    found = await erp.gateway.find_by_origin(RecordType.TASK, "task:1")
    assert found is not None and found.id == item.id
    listed, _ = await drain(erp, RecordType.TASK, OWNER_SCOPE, None)
    assert ids(listed) == [item.id]
    assert ids((await drain(erp, RecordType.TASK, ErpScope(EP2, "b@example.com"), None))[0]) == []


async def test_event_attendees_scope_and_cancel(erp: ErpHarness) -> None:
    event = Event(subject="Review", body="agenda", start=T0, end=datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
                  location="Room 1", organizer="boss@example.com",
                  attendees=(Attendee("ann@example.com", "Ann"), Attendee("bob@example.com", "Bob")))
    item = await create(erp, RecordType.EVENT, event, owner=EP2, origin="evt:1")
    got = await erp.gateway.get(RecordType.EVENT, item.id)
    assert got is not None and got.record.normalized() == event.normalized()
    attendee_scope = ErpScope(employee_id=EP1, email="ann@example.com")
    listed, cursor = await drain(erp, RecordType.EVENT, attendee_scope, None)
    assert ids(listed) == [item.id]
    changed = event.with_fields({"attendees": (Attendee("bob@example.com", "Bob"),
                                               Attendee("cy@example.com", "Cy")), "cancelled": True})
    [result] = await erp.gateway.apply([ErpWrite(WriteKind.UPDATE, RecordType.EVENT, record=changed,
                                                 item_id=item.id, version=item.version)])
    assert result.ok and result.item is not None
    assert result.item.record.normalized() == changed.normalized()
    after, _ = await drain(erp, RecordType.EVENT, attendee_scope, cursor)
    assert removed(after) == [item.id]          # ann is no longer invited
    organizer_scope = ErpScope(employee_id=EP1, email="boss@example.com")
    assert ids((await drain(erp, RecordType.EVENT, organizer_scope, None))[0]) == [item.id]
    found = await erp.gateway.find_by_origin(RecordType.EVENT, "evt:1")
    assert found is not None and found.record.cancelled


async def test_aclose_releases_the_gateway(erp: ErpHarness) -> None:
    await create(erp, RecordType.CONTACT, contact(8), owner=EP1)
    await erp.gateway.aclose()
    if isinstance(erp, AcumaticaHarness):
        assert not erp.gateway.session.logged_in


def _meta(name: str, content: bytes) -> Any:
    from shared.erp.mapping import attachment_meta
    return attachment_meta(name, content)


async def test_workgroup_scope(erp: ErpHarness) -> None:
    sales = await erp.create(RecordType.CONTACT, contact(1), owner=EP2, workgroup="Sales")
    await erp.create(RecordType.CONTACT, contact(2), owner=EP2, workgroup="Support")
    owned = await erp.create(RecordType.CONTACT, contact(3), owner=EP1, workgroup="Support")
    scope = ErpScope(employee_id=EP1, email="ann@example.com", workgroups=("Sales",),
                     contact_filter=ContactFilter.WORKGROUP)
    listed, _ = await drain(erp, RecordType.CONTACT, scope, None)
    assert sorted(ids(listed)) == sorted([sales, owned])   # the workgroup's, plus the employee's own
    assert {i.workgroup for i in listed if isinstance(i, ErpItem)} == {"Sales", "Support"}


async def test_existing_ids_are_the_ids_in_scope(erp: ErpHarness) -> None:
    mine = [await erp.create(RecordType.CONTACT, contact(n), owner=EP1) for n in range(3)]
    theirs = await erp.create(RecordType.CONTACT, contact(5), owner=EP2)
    await erp.delete(RecordType.CONTACT, mine[1])
    never = "0b7e5a4c-1d2e-4f30-9a8b-7c6d5e4f3a2b"
    asked = [mine[0], mine[1], theirs, mine[2], never, "not-a-guid"]
    assert await erp.gateway.existing_ids(RecordType.CONTACT, OWNER_SCOPE, asked) == {mine[0], mine[2]}
    everyone = ErpScope(employee_id=EP1, email="ann@example.com", contact_filter=ContactFilter.ALL)
    assert await erp.gateway.existing_ids(RecordType.CONTACT, everyone, asked) == {mine[0], mine[2], theirs}
    assert await erp.gateway.existing_ids(RecordType.TASK, OWNER_SCOPE, asked) == set()  # another type
    assert await erp.gateway.existing_ids(RecordType.CONTACT, OWNER_SCOPE, []) == set()


async def test_existing_ids_over_several_queries_and_attendee_scope(erp: ErpHarness) -> None:
    import uuid

    event = Event(subject="Sync", body="", start=T0, end=datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
                  organizer="boss@example.com", attendees=(Attendee("ann@example.com", "Ann"),))
    invited = (await create(erp, RecordType.EVENT, event, owner=EP2)).id
    other = (await create(erp, RecordType.EVENT, event.with_fields({"attendees": ()}), owner=EP2)).id
    unknown = [str(uuid.UUID(int=n + 1)) for n in range(40)]
    asked = [unknown[0], invited, *unknown[1:], other]  # 42 ids: more than one or-chain
    assert await erp.gateway.existing_ids(RecordType.EVENT, OWNER_SCOPE, asked) == {invited}


async def test_existing_ids_of_emails_and_tasks_follow_their_scope(erp: ErpHarness) -> None:
    email = EmailMessage(subject="Hi", body="<p>x</p>", from_address="person5@example.com",
                         to=("ann@example.com",), sent_at=T0, incoming=True)
    addressed = (await create(erp, RecordType.EMAIL, email, owner=EP2)).id
    owned = (await create(erp, RecordType.EMAIL, email.with_fields({"to": ("bob@example.com",)}), owner=EP1)).id
    neither = (await create(erp, RecordType.EMAIL, email.with_fields({"to": ("bob@example.com",)}), owner=EP2)).id
    assert await erp.gateway.existing_ids(RecordType.EMAIL, OWNER_SCOPE, [addressed, owned, neither]) == \
        {addressed, owned}
    task = Task(title="Call back", status=TaskStatus.NOT_STARTED, importance=Importance.NORMAL)
    mine = (await create(erp, RecordType.TASK, task, owner=EP1)).id
    theirs = (await create(erp, RecordType.TASK, task, owner=EP2)).id
    assert await erp.gateway.existing_ids(RecordType.TASK, OWNER_SCOPE, [theirs, mine]) == {mine}


async def test_removals_the_caller_learned_are_listed_on_that_page_only(erp: ErpHarness) -> None:
    """Push removals travel through the port: the page given them lists them as Removed."""
    mine = [await erp.create(RecordType.CONTACT, contact(n), owner=EP1) for n in range(2)]
    _, cursor = await drain(erp, RecordType.CONTACT, OWNER_SCOPE, None)
    gone = "0b7e5a4c-1d2e-4f30-9a8b-7c6d5e4f3a2c"
    page = await erp.gateway.list_changes(RecordType.CONTACT, OWNER_SCOPE, cursor, 50, [gone, gone])
    assert removed(list(page.items)) == [gone] and ids(list(page.items)) == []
    again = await erp.gateway.list_changes(RecordType.CONTACT, OWNER_SCOPE, page.cursor, 50)
    assert removed(list(again.items)) == [] and mine


async def test_an_erp_edit_after_the_engine_read_is_never_overwritten(erp: ErpHarness) -> None:
    """The engine writes with the version it read; an ERP user's edit in between wins (contacts are
    written without a second read, activities read first: both detect it)."""
    contact_id = await erp.create(RecordType.CONTACT, contact(30), owner=EP1)
    task = Task(title="Call back", status=TaskStatus.NOT_STARTED, importance=Importance.NORMAL)
    task_id = await erp.create(RecordType.TASK, task, owner=EP1)
    gone_id = await erp.create(RecordType.CONTACT, contact(31), owner=EP1)
    read = {item_id: await erp.gateway.get(record_type, item_id) for record_type, item_id in
            ((RecordType.CONTACT, contact_id), (RecordType.TASK, task_id), (RecordType.CONTACT, gone_id))}
    await erp.update(RecordType.CONTACT, contact_id, contact(30, city="Paris"))
    await erp.update(RecordType.TASK, task_id, task.with_fields({"title": "Call back today"}))
    await erp.delete(RecordType.CONTACT, gone_id)
    results = await erp.gateway.apply([
        ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(30, city="Rome"), item_id=contact_id,
                 version=read[contact_id].version),  # type: ignore[union-attr]
        ErpWrite(WriteKind.UPDATE, RecordType.TASK, record=task.with_fields({"title": "Call back tomorrow"}),
                 item_id=task_id, version=read[task_id].version),  # type: ignore[union-attr]
        ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(31, city="Rome"), item_id=gone_id,
                 version=read[gone_id].version)])  # type: ignore[union-attr]
    assert [type(r.error) for r in results] == [ConcurrencyConflict, ConcurrencyConflict, NotFound]
    kept_contact = await erp.gateway.get(RecordType.CONTACT, contact_id)
    kept_task = await erp.gateway.get(RecordType.TASK, task_id)
    assert kept_contact is not None and kept_contact.record.city == "Paris"
    assert kept_task is not None and kept_task.record.title == "Call back today"
    [fresh] = await erp.gateway.apply([ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(30, city="Rome"),
                                                item_id=contact_id, version=kept_contact.version)])
    assert fresh.ok and fresh.item is not None and fresh.item.record.city == "Rome"


async def test_writes_of_a_batch_get_their_own_results_in_order(erp: ErpHarness) -> None:
    existing = await create(erp, RecordType.CONTACT, contact(40), owner=EP1)
    writes = [ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=contact(41 + n), owner=EP1, origin=f"mbx:4{n}")
              for n in range(5)]
    writes.insert(2, ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(40, city="Oslo"),
                              item_id="00000000-0000-0000-0000-00000000dead"))
    writes.insert(4, ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=contact(40, city="Oslo"),
                              item_id=existing.id, version=existing.version))
    results = await erp.gateway.apply(writes)
    assert [r.write for r in results] == writes
    assert isinstance(results[2].error, NotFound)
    assert results[4].ok and results[4].item is not None and results[4].item.record.city == "Oslo"
    for result in (r for r in results if r.write.kind is WriteKind.CREATE):
        assert result.ok and result.item is not None and result.write.record is not None
        assert result.item.record.email == result.write.record.email and result.item.origin == result.write.origin
        found = await erp.gateway.find_by_origin(RecordType.CONTACT, result.write.origin or "")
        assert found is not None and found.id == result.item.id


async def test_get_many_reads_what_get_reads(erp: ErpHarness) -> None:
    mine = await erp.create(RecordType.CONTACT, contact(50), owner=EP1)
    theirs = await erp.create(RecordType.CONTACT, contact(51), owner=EP2)   # any scope
    gone = await erp.create(RecordType.CONTACT, contact(52), owner=EP1)
    task = await erp.create(RecordType.TASK, Task(title="Not a contact"), owner=EP1)
    await erp.delete(RecordType.CONTACT, gone)
    never = "00000000-0000-0000-0000-00000000beef"
    found = await erp.gateway.get_many(RecordType.CONTACT, [mine, theirs, gone, task, never, "not-a-guid"])
    assert set(found) == {mine, theirs}
    for item_id, item in found.items():
        assert item == await erp.gateway.get(RecordType.CONTACT, item_id)
    assert await erp.gateway.get_many(RecordType.CONTACT, []) == {}


async def test_get_many_over_several_queries(erp: ErpHarness) -> None:
    made = [await erp.create(RecordType.CONTACT, contact(100 + n), owner=EP1) for n in range(60)]
    found = await erp.gateway.get_many(RecordType.CONTACT, made)
    assert set(found) == set(made)
    assert {found[i].record.email for i in made} == {f"person{100 + n}@example.com" for n in range(60)}


async def test_find_contacts_by_email_finds_what_each_look_up_finds(erp: ErpHarness) -> None:
    first = await erp.create(RecordType.CONTACT, contact(60), owner=EP1)
    await erp.create(RecordType.CONTACT, contact(61, email="PERSON60@example.com"), owner=EP2)  # same address
    other = await erp.create(RecordType.CONTACT, contact(62), owner=EP2)
    many = [f"extra{n}@example.com" for n in range(40)]                 # more than one query's worth
    asked = [" Person60@Example.com", "person62@example.com", "nobody@example.com", "", "person62@example.com",
             *many]
    found = await erp.gateway.find_contacts_by_email(asked)
    assert {address: item.id for address, item in found.items()} == {"person60@example.com": first,
                                                                     "person62@example.com": other}
    for address, item in found.items():
        one = await erp.gateway.find_contact_by_email(address)
        assert one is not None and one == item
    assert await erp.gateway.find_contacts_by_email([]) == {}
