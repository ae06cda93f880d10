"""The engine over the real gateway: one mailbox on the Graph simulator, the ERP and state twins.

Checks that what the engine relies on holds over HTTP: records flow both ways, everything
converges, and a second run writes nothing to the mailbox (echoes are recognised).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kiota_http.middleware.options import RetryHandlerOption

from devhost.services import Simulator
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import (
    Attachment,
    Attendee,
    Contact,
    EmailMessage,
    Event,
    Importance,
    RecordType,
    Task,
    TaskStatus,
)
from shared.domain.status import RunState, RunSummary
from shared.erp.memory import InMemoryErpGateway
from shared.graph.gateway import GraphMailboxGateway
from shared.graph.memory import TickingClock
from shared.ports import AttachmentContent, MailboxItem, MailboxWrite, WriteKind
from shared.state.memory import InMemoryStateStore
from shared.sync.run import container_name
from tests.engine import sync_mailbox
from tests.graph.simulator import admin, fresh, graph_simulator

EMAIL = "ann@contoso.test"
EMPLOYEE = "EP0001"
TYPES = (RecordType.CONTACT, RecordType.TASK, RecordType.EVENT)
WRITE_METHODS = {"POST", "PATCH", "DELETE", "PUT"}


class World:
    def __init__(self, sim: Simulator, gateway: GraphMailboxGateway) -> None:
        self.sim = sim
        self.gateway = gateway
        self.clock = TickingClock(datetime.now(UTC).replace(microsecond=0))
        self.erp = InMemoryErpGateway(self.clock)
        self.state = InMemoryStateStore(self.clock)
        self.policy = SyncPolicy(name="default")
        self.server = ServerConfig(name="s1", update_batch_size=5, select_batch_size=4)
        self.mailbox = Mailbox(email=EMAIL, server="s1", employee_id=EMPLOYEE)
        self.runs = 0

    async def run(self) -> RunSummary:
        return await self.run_types(*TYPES)

    async def run_types(self, *types: RecordType) -> RunSummary:
        self.runs += 1
        return await sync_mailbox(mailbox=self.mailbox, server=self.server, policy=self.policy,
                                  mailbox_gateway=self.gateway, erp_gateway=self.erp, state=self.state,
                                  clock=self.clock, run_id=f"run{self.runs}", record_types=list(types))

    async def container(self, record_type: RecordType) -> str:
        return await self.gateway.ensure_container(EMAIL, record_type, container_name(self.policy, record_type))

    async def mailbox_items(self, record_type: RecordType) -> list[MailboxItem[Any]]:
        container, cursor, out = await self.container(record_type), None, []
        while True:
            page = await self.gateway.list_changes(EMAIL, record_type, container, cursor, 50)
            out += [e for e in page.items if isinstance(e, MailboxItem)]
            cursor = page.cursor
            if page.complete:
                return out

    def mailbox_writes(self) -> list[dict[str, Any]]:
        return [r for r in admin(self.sim, "GET", "/_sim/requests")
                if r["method"] in WRITE_METHODS and not r["path"].endswith("$batch")]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sim = graph_simulator()
    fresh(sim)
    gateway = GraphMailboxGateway.create(None, f"{sim.base_url}/v1.0", update_batch_size=5,
                                         retry=RetryHandlerOption(delay=0, max_retries=2))
    try:
        yield World(sim, gateway)
    finally:
        await gateway.aclose()


def soon(days: int, hour: int = 9) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


async def test_records_flow_both_ways_and_a_second_run_writes_nothing(world: World) -> None:
    for i in range(4):
        world.erp.user_create(RecordType.CONTACT, Contact(first_name=f"E{i}", last_name="Erp",
                                                          email=f"e{i}@fabrikam.test"), owner=EMPLOYEE)
    world.erp.user_create(RecordType.TASK, Task(title="Call Pat", status=TaskStatus.IN_PROGRESS,
                                                importance=Importance.HIGH, due_at=soon(3)), owner=EMPLOYEE)
    world.erp.user_create(RecordType.EVENT, Event(subject="Review", start=soon(2), end=soon(2, 10),
                                                  organizer=EMAIL, location="Room 1",
                                                  attendees=(Attendee("pat@fabrikam.test", "Pat"),)),
                          owner=EMPLOYEE)
    await world.gateway.ensure_category(EMAIL, world.policy.category.name, world.policy.category.color)
    contacts = await world.container(RecordType.CONTACT)
    [made] = await world.gateway.apply(EMAIL, [MailboxWrite(  # a contact the user files under the category
        WriteKind.CREATE, RecordType.CONTACT, contacts, record=Contact(first_name="Mia", email="mia@x.test"),
        categories=(world.policy.category.name,))])
    assert made.ok, made.error

    summary = await world.run()
    assert summary.state is RunState.SUCCEEDED, summary

    mailbox_contacts = await world.mailbox_items(RecordType.CONTACT)
    assert sorted(i.record.normalized().first_name for i in mailbox_contacts) == ["E0", "E1", "E2", "E3", "Mia"]
    erp_contacts = world.erp.items(RecordType.CONTACT)
    assert sorted(i.record.normalized().first_name for i in erp_contacts) == ["E0", "E1", "E2", "E3", "Mia"]
    assert [i.record.title for i in await world.mailbox_items(RecordType.TASK)] == ["Call Pat"]
    [event] = await world.mailbox_items(RecordType.EVENT)
    assert (event.record.subject, event.record.start) == ("Review", soon(2))
    assert all(i.stamp for i in mailbox_contacts if i.record.first_name != "Mia")

    before = len(world.mailbox_writes())
    erp_writes = len(world.erp.applied)
    summary = await world.run()
    assert summary.state is RunState.SUCCEEDED, summary
    assert world.mailbox_writes()[before:] == []
    assert len(world.erp.applied) == erp_writes


async def test_edits_and_deletes_cross_over_on_later_runs(world: World) -> None:
    ids = [world.erp.user_create(RecordType.CONTACT, Contact(first_name=f"C{i}", email=f"c{i}@fabrikam.test"),
                                 owner=EMPLOYEE) for i in range(3)]
    assert (await world.run()).state is RunState.SUCCEEDED
    by_name = {i.record.first_name: i for i in await world.mailbox_items(RecordType.CONTACT)}
    contacts = await world.container(RecordType.CONTACT)

    world.erp.user_update(ids[0], Contact(first_name="C0", email="c0@fabrikam.test", job_title="Buyer"))
    edited = by_name["C1"]
    [user_edit] = await world.gateway.apply(EMAIL, [MailboxWrite(
        WriteKind.UPDATE, RecordType.CONTACT, contacts, item_id=edited.id, etag=edited.etag,
        record=Contact(first_name="C1", email="c1@fabrikam.test", city="Oslo"))])
    assert user_edit.ok, user_edit.error
    [user_delete] = await world.gateway.apply(EMAIL, [MailboxWrite(
        WriteKind.DELETE, RecordType.CONTACT, contacts, item_id=by_name["C2"].id)])
    assert user_delete.ok, user_delete.error

    summary = await world.run()
    assert summary.state is RunState.SUCCEEDED, summary
    mailbox = {i.record.first_name: i.record for i in await world.mailbox_items(RecordType.CONTACT)}
    erp = {i.record.first_name: i.record for i in world.erp.items(RecordType.CONTACT)}
    assert set(mailbox) == set(erp) == {"C0", "C1"}
    assert mailbox["C0"].job_title == "Buyer"
    assert erp["C1"].city == "Oslo"


async def test_mail_flows_both_ways(world: World) -> None:
    world.erp.user_create(RecordType.EMAIL, EmailMessage(
        subject="Quote", body="Attached quote", from_address="pat@fabrikam.test", to=(EMAIL,),
        sent_at=soon(-1), incoming=True, internet_message_id="<quote-1@fabrikam.test>"), owner=EMPLOYEE)
    folder = await world.gateway.ensure_container(EMAIL, RecordType.EMAIL, world.policy.emails.folder)
    [filed] = await world.gateway.apply(EMAIL, [MailboxWrite(
        WriteKind.CREATE, RecordType.EMAIL, folder, record=EmailMessage(
            subject="Order", body="Please ship", from_address="lee@fabrikam.test", to=(EMAIL,),
            sent_at=soon(-2), incoming=True, internet_message_id="<order-7@fabrikam.test>"))])
    assert filed.ok, filed.error

    summary = await world.run_types(RecordType.EMAIL)
    assert summary.state is RunState.SUCCEEDED, summary
    mailbox = {i.record.subject: i for i in await world.mailbox_items(RecordType.EMAIL)}
    erp = {i.record.subject: i for i in world.erp.items(RecordType.EMAIL)}
    assert set(mailbox) == set(erp) == {"Quote", "Order"}
    assert mailbox["Quote"].record.internet_message_id == "<quote-1@fabrikam.test>"
    assert erp["Order"].record.internet_message_id == "<order-7@fabrikam.test>"

    before = len(world.mailbox_writes())
    assert (await world.run_types(RecordType.EMAIL)).state is RunState.SUCCEEDED
    assert world.mailbox_writes()[before:] == []


async def test_mail_sent_from_the_erp_lands_in_sent_items_once(world: World) -> None:
    world.erp.user_create(RecordType.EMAIL, EmailMessage(
        subject="Your invoice", body="Invoice 42", from_address=EMAIL, to=("pat@fabrikam.test",),
        incoming=False), owner=EMPLOYEE)
    assert (await world.run_types(RecordType.EMAIL)).state is RunState.SUCCEEDED
    sent_items = await world.gateway.ensure_container(EMAIL, RecordType.EMAIL, "sentitems")
    page = await world.gateway.list_changes(EMAIL, RecordType.EMAIL, sent_items, None, 50)
    sent = [e for e in page.items if isinstance(e, MailboxItem)]
    assert [(s.record.subject, s.record.incoming) for s in sent] == [("Your invoice", False)]
    assert len([r for r in world.mailbox_writes() if r["path"].endswith("/sendMail")]) == 1

    before = len(world.mailbox_writes())
    assert (await world.run_types(RecordType.EMAIL)).state is RunState.SUCCEEDED
    assert world.mailbox_writes()[before:] == []


async def test_a_crash_after_mailbox_creates_leaves_no_duplicates(world: World) -> None:
    for i in range(3):
        world.erp.user_create(RecordType.CONTACT, Contact(first_name=f"K{i}", email=f"k{i}@fabrikam.test"),
                              owner=EMPLOYEE)
    world.state.fail_next("put_link", RuntimeError("worker died before recording the link"))
    world.state.fail_next("put_links", RuntimeError("worker died before recording the links"))
    with contextlib.suppress(RuntimeError):  # the crash may escape the run or land in its summary
        await world.run_types(RecordType.CONTACT)
    world.state.clear_faults()
    assert len(await world.mailbox_items(RecordType.CONTACT)) == 3  # written, not yet linked
    assert (await world.run_types(RecordType.CONTACT)).state is RunState.SUCCEEDED
    names = sorted(i.record.first_name for i in await world.mailbox_items(RecordType.CONTACT))
    assert names == ["K0", "K1", "K2"]
    assert sorted(i.record.first_name for i in world.erp.items(RecordType.CONTACT)) == names


async def test_mail_with_an_attachment_arrives_once_with_its_file(world: World) -> None:
    content = b"%PDF-1.7 quote" * 100
    meta = Attachment("quote.pdf", len(content), "application/pdf", hashlib.sha256(content).hexdigest())
    world.erp.user_create(RecordType.EMAIL, EmailMessage(
        subject="Quote", body="see file", from_address="pat@fabrikam.test", to=(EMAIL,), sent_at=soon(-1),
        incoming=True, internet_message_id="<q-9@fabrikam.test>", attachments=(meta,)), owner=EMPLOYEE,
        files=(AttachmentContent(meta, content),))
    assert (await world.run_types(RecordType.EMAIL)).state is RunState.SUCCEEDED
    [message] = await world.mailbox_items(RecordType.EMAIL)
    [file] = await world.gateway.read_attachments(EMAIL, message.id, 1 << 20)
    assert (file.meta.name, file.content) == ("quote.pdf", content)

    before = len(world.mailbox_writes())
    assert (await world.run_types(RecordType.EMAIL)).state is RunState.SUCCEEDED
    assert world.mailbox_writes()[before:] == []


async def test_tasks_and_events_made_in_outlook_reach_the_erp(world: World) -> None:
    category = world.policy.category.name
    await world.gateway.ensure_category(EMAIL, category, world.policy.category.color)
    tasks = await world.container(RecordType.TASK)
    calendar = await world.container(RecordType.EVENT)
    results = await world.gateway.apply(EMAIL, [
        MailboxWrite(WriteKind.CREATE, RecordType.TASK, tasks, categories=(category,),
                     record=Task(title="Send samples", status=TaskStatus.WAITING_ON_OTHERS, due_at=soon(5))),
        MailboxWrite(WriteKind.CREATE, RecordType.TASK, tasks,  # no category: stays private
                     record=Task(title="Buy milk")),
    ])
    [meeting] = await world.gateway.apply(EMAIL, [MailboxWrite(
        WriteKind.CREATE, RecordType.EVENT, calendar, categories=(category,),
        record=Event(subject="Visit", start=soon(4), end=soon(4, 11), location="Fabrikam",
                     attendees=(Attendee("pat@fabrikam.test", "Pat"),)))])
    assert all(r.ok for r in [*results, meeting])

    assert (await world.run_types(RecordType.TASK, RecordType.EVENT)).state is RunState.SUCCEEDED
    erp_tasks = [i.record for i in world.erp.items(RecordType.TASK)]
    assert [(t.title, t.status) for t in erp_tasks] == [("Send samples", TaskStatus.WAITING_ON_OTHERS)]
    [erp_event] = [i.record for i in world.erp.items(RecordType.EVENT)]
    assert (erp_event.subject, erp_event.start, erp_event.organizer) == ("Visit", soon(4), EMAIL)

    before = len(world.mailbox_writes())
    assert (await world.run_types(RecordType.TASK, RecordType.EVENT)).state is RunState.SUCCEEDED
    assert world.mailbox_writes()[before:] == []
