"""The in-memory gateway twins behave like the services they stand for."""

from __future__ import annotations

import pytest

from shared.domain.config import ContactFilter
from shared.domain.records import Contact, EmailMessage, Event, RecordType
from shared.erp.memory import InMemoryErpGateway
from shared.errors import ConcurrencyConflict, SyncStateLost
from shared.graph.memory import SENT_ITEMS, InMemoryMailboxGateway
from shared.ports import ErpScope, ErpWrite, MailboxWrite, Removed, WriteKind

MB = "ann@contoso.com"


async def test_mailbox_delta_pages_removed_and_stale_etag() -> None:
    gw = InMemoryMailboxGateway()
    folder = await gw.ensure_container(MB, RecordType.CONTACT, None)
    ids = [gw.user_create(MB, RecordType.CONTACT, folder, Contact(first_name=f"n{i}")) for i in range(3)]
    first = await gw.list_changes(MB, RecordType.CONTACT, folder, None, 2)
    assert not first.complete and len(first.items) == 2
    second = await gw.list_changes(MB, RecordType.CONTACT, folder, first.cursor, 2)
    assert second.complete and len(second.items) == 1
    stale = (await gw.get(MB, RecordType.CONTACT, folder, ids[0]))
    assert stale is not None
    gw.user_update(MB, ids[0], Contact(first_name="x"))
    [res] = await gw.apply(MB, [MailboxWrite(WriteKind.UPDATE, RecordType.CONTACT, folder,
                                            record=Contact(first_name="y"), item_id=ids[0], etag=stale.etag)])
    assert isinstance(res.error, ConcurrencyConflict)
    gw.user_delete(MB, ids[1])
    delta = await gw.list_changes(MB, RecordType.CONTACT, folder, second.cursor, 10)
    assert {type(e) for e in delta.items} == {Removed, type(stale)}
    gw.invalidate_cursors(MB)
    with pytest.raises(SyncStateLost):
        await gw.list_changes(MB, RecordType.CONTACT, folder, delta.cursor, 10)


async def test_send_lands_in_sent_items_and_cancel_needs_organizer() -> None:
    gw = InMemoryMailboxGateway()
    folder = await gw.ensure_container(MB, RecordType.EMAIL, "ERP")
    [res] = await gw.apply(MB, [MailboxWrite(WriteKind.SEND, RecordType.EMAIL, folder, stamp="e1",
                                            record=EmailMessage(subject="hi", to=("bob@x.com",)))])
    assert res.ok and res.item is None
    sent = await gw.ensure_container(MB, RecordType.EMAIL, SENT_ITEMS)
    found = await gw.find_by_stamp(MB, RecordType.EMAIL, sent, "e1")
    assert found is not None and not found.record.incoming
    assert await gw.find_message(MB, found.record.internet_message_id) is not None
    cal = await gw.ensure_container(MB, RecordType.EVENT, None)
    other = gw.user_create(MB, RecordType.EVENT, cal, Event(subject="s", organizer="bob@x.com"))
    [res] = await gw.apply(MB, [MailboxWrite(WriteKind.CANCEL, RecordType.EVENT, cal, item_id=other)])
    assert not res.ok


async def test_erp_versions_increase_and_scope() -> None:
    erp = InMemoryErpGateway()
    mine = erp.user_create(RecordType.CONTACT, Contact(first_name="a"), owner="E1")
    erp.user_create(RecordType.CONTACT, Contact(first_name="b"), owner="E2")
    scope = ErpScope("E1", MB, contact_filter=ContactFilter.OWNER)
    page = await erp.list_changes(RecordType.CONTACT, scope, None, 10)
    assert [e.id for e in page.items if not isinstance(e, Removed)] == [mine]
    before = await erp.get(RecordType.CONTACT, mine)
    assert before is not None
    erp.touch(mine)
    after = await erp.get(RecordType.CONTACT, mine)
    assert after is not None and after.version > before.version
    [res] = await erp.apply([ErpWrite(WriteKind.UPDATE, RecordType.CONTACT, record=Contact(first_name="z"),
                                      item_id=mine, version=before.version)])
    assert isinstance(res.error, ConcurrencyConflict)
    erp.user_update(mine, owner="E2")
    delta = await erp.list_changes(RecordType.CONTACT, scope, page.cursor, 10)
    assert delta.items == (Removed(mine),)
    [res] = await erp.apply([ErpWrite(WriteKind.CREATE, RecordType.CONTACT, record=Contact(first_name="c"),
                                      origin="o1", owner="E1")])
    assert res.ok
    assert (await erp.find_by_origin(RecordType.CONTACT, "o1")) is not None
