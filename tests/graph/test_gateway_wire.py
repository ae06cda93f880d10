"""What the gateway puts on the wire, checked through the simulator: batch sizes, non-draft
messages, upload sessions for large attachments, sendMail with attachments, immutable ids."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kiota_http.middleware.options import RetryHandlerOption

from devhost.services import Simulator
from shared.domain.records import Attachment, Contact, EmailMessage, RecordType
from shared.graph import speedups
from shared.graph.gateway import GraphMailboxGateway, warm_up
from shared.ports import AttachmentContent, MailboxItem, MailboxWrite, WriteKind
from tests.graph.simulator import admin, fresh, graph_simulator

MAILBOX = "ann@contoso.test"


@pytest.fixture
def sim() -> Simulator:
    started = graph_simulator()
    fresh(started)
    return started


async def make(sim: Simulator, batch: int = 20) -> GraphMailboxGateway:
    return GraphMailboxGateway.create(None, f"{sim.base_url}/v1.0", update_batch_size=batch,
                                      retry=RetryHandlerOption(delay=0, max_retries=2))


@pytest.fixture
async def gateway(sim: Simulator) -> AsyncIterator[GraphMailboxGateway]:
    gw = await make(sim)
    try:
        yield gw
    finally:
        await gw.aclose()


async def raw_get(sim: Simulator, path: str) -> Any:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{sim.base_url}/v1.0{path}", headers={
            "Authorization": "Bearer t", "Prefer": 'IdType="ImmutableId"'})
    response.raise_for_status()
    return response.json()


def journal(sim: Simulator) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = admin(sim, "GET", "/_sim/requests")
    return entries


def file(name: str, content: bytes) -> AttachmentContent:
    return AttachmentContent(Attachment(name, len(content), "application/pdf",
                                        hashlib.sha256(content).hexdigest()), content)


async def test_writes_go_in_batches_of_the_update_batch_size(sim: Simulator) -> None:
    gw = await make(sim, batch=5)
    try:
        container = await gw.ensure_container(MAILBOX, RecordType.CONTACT, "B")
        writes = [MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container, record=Contact(first_name=f"N{i}"))
                  for i in range(12)]
        results = await gw.apply(MAILBOX, writes)
    finally:
        await gw.aclose()
    assert all(r.ok for r in results)
    batches = [e for e in journal(sim) if e["path"].endswith("/$batch")]
    assert len(batches) == 3
    assert sorted(len(e["body"]["requests"]) for e in batches) == [2, 5, 5]


async def test_created_message_is_filed_not_a_draft(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.EMAIL, "ERP")
    record = EmailMessage(subject="Order", body="text", from_address="pat@fabrikam.test", to=(MAILBOX,))
    [result] = await gateway.apply(MAILBOX, [MailboxWrite(WriteKind.CREATE, RecordType.EMAIL, container,
                                                          record=record, stamp="erp-7")])
    assert result.item is not None
    raw = await raw_get(sim, f"/users/{MAILBOX}/messages/{result.item.id}")
    assert raw["isDraft"] is False
    assert raw["parentFolderId"] == container
    assert result.item.record.incoming is True


async def test_large_attachment_goes_through_an_upload_session(sim: Simulator,
                                                               gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.EMAIL, "ERP")
    big = bytes(range(256)) * (14 * 1024 + 7)  # ~3.5 MB, above the inline limit
    record = EmailMessage(subject="Spec", body="attached", from_address="pat@fabrikam.test", to=(MAILBOX,))
    [result] = await gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.CREATE, RecordType.EMAIL, container, record=record, files=(file("spec.pdf", big),))])
    assert result.ok, result.error
    assert result.item is not None
    [read] = await gateway.read_attachments(MAILBOX, result.item.id, 8 << 20)
    assert read.content == big and read.meta.name == "spec.pdf"
    assert read.meta.content_hash == hashlib.sha256(big).hexdigest()
    assert any(e["path"].endswith("/attachments/createUploadSession") for e in journal(sim))
    assert not await gateway.read_attachments(MAILBOX, result.item.id, 1 << 20)


async def test_attachments_above_the_maximum_are_skipped(sim: Simulator) -> None:
    gw = GraphMailboxGateway.create(None, f"{sim.base_url}/v1.0", max_attachment_kb=1)
    try:
        container = await gw.ensure_container(MAILBOX, RecordType.EMAIL, "ERP")
        record = EmailMessage(subject="Two", body="b", from_address="pat@fabrikam.test", to=(MAILBOX,))
        [result] = await gw.apply(MAILBOX, [MailboxWrite(
            WriteKind.CREATE, RecordType.EMAIL, container, record=record,
            files=(file("small.txt", b"x" * 100), file("big.bin", b"y" * 5000)))])
        assert result.item is not None
        names = [a.meta.name for a in await gw.read_attachments(MAILBOX, result.item.id, 1 << 20)]
    finally:
        await gw.aclose()
    assert names == ["small.txt"]


async def test_send_with_attachment_lands_in_sent_items(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    sent_items = await gateway.ensure_container(MAILBOX, RecordType.EMAIL, "sentitems")
    record = EmailMessage(subject="Invoice", body="see pdf", to=("pat@fabrikam.test",), incoming=False)
    [result] = await gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.SEND, RecordType.EMAIL, sent_items, record=record, stamp="erp-inv",
        files=(file("inv.pdf", b"%PDF-1.4 invoice"),))])
    assert result.ok, result.error
    page = await gateway.list_changes(MAILBOX, RecordType.EMAIL, sent_items, None, 50)
    [sent] = [e for e in page.items if isinstance(e, MailboxItem)]
    assert sent.record.subject == "Invoice" and sent.record.incoming is False
    raw = await raw_get(sim, f"/users/{MAILBOX}/messages/{sent.id}")
    assert raw["isDraft"] is False
    [attached] = await gateway.read_attachments(MAILBOX, sent.id, 1 << 20)
    assert attached.content == b"%PDF-1.4 invoice"
    found = await gateway.find_by_stamp(MAILBOX, RecordType.EMAIL, sent_items, "erp-inv")
    assert found is not None and found.id == sent.id


async def test_ids_are_immutable_ids(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, None)
    [result] = await gateway.apply(MAILBOX, [MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container,
                                                          record=Contact(first_name="I"))])
    assert result.item is not None
    without_prefer = await raw_client_get(sim, f"/users/{MAILBOX}/contacts/{result.item.id}")
    assert without_prefer["id"] != result.item.id  # the simulator, like Graph, answers REST ids without it


async def raw_client_get(sim: Simulator, path: str) -> Any:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{sim.base_url}/v1.0{path}", headers={"Authorization": "Bearer t"})
    response.raise_for_status()
    return response.json()


async def test_warm_up_installs_the_fast_deserialiser() -> None:
    await warm_up()
    assert speedups.install()


async def test_default_contact_folder_without_the_well_known_name(sim: Simulator,
                                                                  gateway: GraphMailboxGateway) -> None:
    folder = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "Child")
    expected = (await raw_get(sim, f"/users/{MAILBOX}/contactFolders/{folder}"))["parentFolderId"]
    assert await gateway.ensure_container(MAILBOX, RecordType.CONTACT, None) == expected
    fresh_gateway = await make(sim)
    try:
        admin(sim, "POST", "/_sim/faults", {"path": "/contactFolders/contacts$", "method": "GET", "status": 404})
        assert await fresh_gateway.ensure_container(MAILBOX, RecordType.CONTACT, None) == expected
    finally:
        await fresh_gateway.aclose()


def _item_gets(sim: Simulator) -> int:
    return sum(1 for e in journal(sim) if e["method"] == "GET" and "/contacts/" in e["path"]
               and not e["path"].endswith("/delta"))


async def test_listing_without_stamps_reads_none_back_until_asked(sim: Simulator,
                                                                  gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "S")
    created = await gateway.apply(MAILBOX, [
        MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container, record=Contact(first_name=f"S{i}"),
                     stamp=f"erp-{i}") for i in range(3)])
    assert all(r.ok for r in created)
    before = _item_gets(sim)
    page = await gateway.list_changes(MAILBOX, RecordType.CONTACT, container, None, 50, stamps=False)
    items = [e for e in page.items if isinstance(e, MailboxItem)]
    assert len(items) == 3 and all(not i.stamp_known and i.stamp is None for i in items)
    assert _item_gets(sim) == before                       # nothing read back
    filled = await gateway.fill_stamps(MAILBOX, RecordType.CONTACT, container, items[:2])
    assert sorted(str(i.stamp) for i in filled) == sorted(str(r.item.stamp) for r in created
                                                          if r.item is not None and r.item.id in
                                                          {i.id for i in items[:2]})
    assert all(i.stamp_known for i in filled) and _item_gets(sim) == before + 2


async def test_update_with_a_known_stamp_is_not_read_back(sim: Simulator, gateway: GraphMailboxGateway) -> None:
    container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "K")
    [made] = await gateway.apply(MAILBOX, [MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container,
                                                        record=Contact(first_name="K"), stamp="erp-k")])
    assert isinstance(made.item, MailboxItem)
    before = _item_gets(sim)
    [known] = await gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, RecordType.CONTACT, container, record=Contact(first_name="K2"), item_id=made.item.id,
        known_stamp="erp-k")])
    assert known.ok and isinstance(known.item, MailboxItem) and known.item.stamp == "erp-k"
    assert _item_gets(sim) == before
    [unknown] = await gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, RecordType.CONTACT, container, record=Contact(first_name="K3"), item_id=made.item.id)])
    assert isinstance(unknown.item, MailboxItem) and unknown.item.stamp == "erp-k"
    assert _item_gets(sim) == before + 1               # without it, the stamp is read back
