"""The engine over HTTP: the Graph gateway (msgraph-sdk) against the Graph simulator, the Acumatica
gateway against the Acumatica simulator, and the Table Storage state store on Azurite.

Users act behind exsync's back: in the ERP through a second Acumatica session, in the mailbox
through Graph (the same API Outlook uses).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
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
    Record,
    RecordType,
    Task,
    TaskStatus,
)
from shared.domain.status import RunState, RunSummary
from shared.graph.gateway import GraphMailboxGateway
from shared.ports import AttachmentContent, ErpItem, MailboxItem, MailboxWrite, Removed, WriteKind
from shared.state import rules
from shared.state.table import TableStateStore
from shared.sync.run import container_name
from tests.engine import sync_mailbox
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import AcumaticaHarness, push_receiver, reset_simulator
from tests.graph.simulator import fresh, graph_simulator

MAILBOX = "ann@contoso.test"
EMPLOYEE = "EP00000001"
C, M, T, E = RecordType.CONTACT, RecordType.EMAIL, RecordType.TASK, RecordType.EVENT
T0 = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2)


@dataclasses.dataclass
class World:
    erp: AcumaticaHarness
    mailbox_gateway: GraphMailboxGateway
    state: TableStateStore
    policy: SyncPolicy
    server: ServerConfig
    mailbox: Mailbox = dataclasses.field(default_factory=lambda: Mailbox(email=MAILBOX, server="s1",
                                                                         employee_id=EMPLOYEE))

    async def run(self, *types: RecordType) -> RunSummary:
        return await sync_mailbox(mailbox=self.mailbox, server=self.server, policy=self.policy,
                                  mailbox_gateway=self.mailbox_gateway, erp_gateway=self.erp.gateway,
                                  state=self.state, clock=rules.UtcClock(), run_id=uuid.uuid4().hex[:8],
                                  record_types=types)

    async def container(self, record_type: RecordType, name: str | None = None) -> str:
        return await self.mailbox_gateway.ensure_container(
            MAILBOX, record_type, name if name is not None else container_name(self.policy, record_type))

    async def mailbox_items(self, record_type: RecordType, name: str | None = None) -> list[MailboxItem[Any]]:
        return await _drain(self.mailbox_gateway, record_type, await self.container(record_type, name))

    async def erp_items(self, record_type: RecordType) -> list[ErpItem[Any]]:
        from shared.ports import ErpScope
        out: list[ErpItem[Any]] = []
        cursor = None
        scope = ErpScope(self.mailbox.employee_id, MAILBOX, contact_filter=self.policy.contacts.filter)
        while True:
            page = await self.erp.gateway.list_ids(record_type, scope, cursor, 100)
            for item_id in page.items:
                assert isinstance(item_id, str)
                item = await self.erp.gateway.get(record_type, item_id)
                if item is not None:
                    out.append(item)
            if page.complete:
                return out
            cursor = page.cursor

    async def user_mailbox_create(self, record_type: RecordType, record: Record, *, tagged: bool = True,
                                  files: tuple[AttachmentContent, ...] = ()) -> str:
        write = MailboxWrite(WriteKind.CREATE, record_type, await self.container(record_type), record=record,
                             categories=(self.policy.category.name,) if tagged else (), files=files)
        [result] = await self.mailbox_gateway.apply(MAILBOX, [write])
        assert result.ok and isinstance(result.item, MailboxItem), result.error
        return result.item.id


async def _drain(gateway: GraphMailboxGateway, record_type: RecordType, container: str) -> list[MailboxItem[Any]]:
    items: dict[str, MailboxItem[Any]] = {}
    cursor = None
    while True:
        page = await gateway.list_changes(MAILBOX, record_type, container, cursor, 50)
        for entry in page.items:
            if isinstance(entry, Removed):
                items.pop(entry.id, None)
            else:
                items[entry.id] = entry
        if page.complete:
            return list(items.values())
        cursor = page.cursor


@pytest.fixture
async def world(acumatica_sim: Simulator, azurite_connection_string: str) -> AsyncIterator[World]:  # noqa: F811
    sim = graph_simulator()
    fresh(sim)
    await reset_simulator(acumatica_sim.base_url)
    store = TableStateStore.from_connection_string(azurite_connection_string,
                                                   table_prefix=f"eng{uuid.uuid4().hex[:10]}")
    await store.create_tables()
    graph = GraphMailboxGateway.create(None, f"{sim.base_url}/v1.0", retry=RetryHandlerOption(delay=0, max_retries=2))
    async with push_receiver(acumatica_sim.base_url) as receiver:
        erp = AcumaticaHarness(acumatica_sim.base_url, receiver)
        try:
            yield World(erp, graph, store, SyncPolicy(name="default"),
                        ServerConfig(name="s1", logging_level="informational", update_batch_size=5,
                                     select_batch_size=10, max_attachment_kb=1))
        finally:
            await erp.aclose()
            await graph.aclose()
            await store.delete_tables()
            await store.aclose()


def writes(summary: RunSummary) -> int:
    return sum(c.writes for c in summary.counts.values())


def policy(world: World, **changes: Any) -> SyncPolicy:
    return SyncPolicy.model_validate({**world.policy.model_dump(), **changes})


# ---------------------------------------------------------------- contacts, each direction


async def test_contacts_both_ways_then_nothing_to_do(world: World) -> None:
    erp_id = await world.erp.create(C, Contact(first_name="Erin", last_name="Erp", email="erin@fabrikam.test"),
                                    owner=EMPLOYEE)
    await world.user_mailbox_create(C, Contact(first_name="Max", last_name="Mail", email="max@fabrikam.test"))
    first = await world.run(C)
    assert first.state is RunState.SUCCEEDED, first
    assert {i.record.email for i in await world.mailbox_items(C)} == {"erin@fabrikam.test", "max@fabrikam.test"}
    erp = {i.record.email: i for i in await world.erp_items(C)}
    assert set(erp) == {"erin@fabrikam.test", "max@fabrikam.test"}
    assert erp["max@fabrikam.test"].owner == EMPLOYEE
    await world.erp.update(C, erp_id, Contact(first_name="Erin", last_name="Erp", email="erin@fabrikam.test",
                                              job_title="Buyer"))
    second = await world.run(C)
    assert second.state is RunState.SUCCEEDED
    [copy] = [i for i in await world.mailbox_items(C) if i.record.email == "erin@fabrikam.test"]
    assert copy.record.job_title == "Buyer"
    third = await world.run(C)
    assert third.state is RunState.SUCCEEDED and writes(third) == 0, third
    status = await world.state.get_status(MAILBOX)
    assert status is not None and C in status.value.export_dates and C in status.value.import_dates
    log = await world.state.list_log(MAILBOX, None, 100, None)
    assert not any("date was reset" in e.message for e in log.items)  # type: ignore[union-attr]


@pytest.mark.parametrize("direction", ["system_to_exchange", "exchange_to_system"])
async def test_contacts_one_way(world: World, direction: str) -> None:
    world.policy = policy(world, contacts={"direction": direction})
    await world.erp.create(C, Contact(first_name="Erin", email="erin@fabrikam.test"), owner=EMPLOYEE)
    await world.user_mailbox_create(C, Contact(first_name="Max", email="max@fabrikam.test"))
    summary = await world.run(C)
    assert summary.state is RunState.SUCCEEDED, summary
    mailbox = {i.record.email for i in await world.mailbox_items(C)}
    erp = {i.record.email for i in await world.erp_items(C)}
    if direction == "system_to_exchange":
        assert mailbox == {"erin@fabrikam.test", "max@fabrikam.test"} and erp == {"erin@fabrikam.test"}
        assert "contact.erp" not in summary.counts or summary.counts["contact.erp"].writes == 0
    else:
        assert erp == {"erin@fabrikam.test", "max@fabrikam.test"} and mailbox == {"max@fabrikam.test"}
        assert "contact.mailbox" not in summary.counts or summary.counts["contact.mailbox"].writes == 0


# ---------------------------------------------------------------- tasks: the status table


async def test_task_status_table(world: World) -> None:
    for status in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED,
                   TaskStatus.WAITING_ON_OTHERS):
        await world.erp.create(T, Task(title=status.value, status=status, due_at=T0), owner=EMPLOYEE)
    await world.user_mailbox_create(T, Task(title="deferred", status=TaskStatus.DEFERRED))
    await world.user_mailbox_create(T, Task(title="untagged"), tagged=False)
    await world.user_mailbox_create(T, Task(title="from todo", status=TaskStatus.IN_PROGRESS))
    summary = await world.run(T)
    assert summary.state is RunState.SUCCEEDED, summary
    mailbox = {i.record.title: i.record.status for i in await world.mailbox_items(T)}
    for status in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED,
                   TaskStatus.WAITING_ON_OTHERS):
        assert mailbox[status.value] is status
    erp = {i.record.title: i.record.status for i in await world.erp_items(T)}
    assert erp.get("from todo") is TaskStatus.IN_PROGRESS
    assert "deferred" not in erp and "untagged" not in erp
    assert writes(await world.run(T)) == 0


# ---------------------------------------------------------------- events: the attendee rule


async def test_event_of_an_unsynced_organizer_reaches_the_attendee(world: World) -> None:
    await world.erp.create(E, Event(subject="Board", start=T0, end=T0 + timedelta(hours=1),
                                    organizer="boss@fabrikam.test", attendees=(Attendee(MAILBOX, "Ann"),)))
    own = await world.erp.create(E, Event(subject="Mine", start=T0, end=T0 + timedelta(hours=1),
                                          organizer=MAILBOX, attendees=(Attendee("pat@fabrikam.test"),)))
    summary = await world.run(E)
    assert summary.state is RunState.SUCCEEDED, summary
    items = {i.record.subject: i for i in await world.mailbox_items(E)}
    assert set(items) == {"Board", "Mine"}
    assert [a.email for a in items["Mine"].record.attendees] == ["pat@fabrikam.test"]
    await world.erp.update(E, own, Event(subject="Mine", start=T0, end=T0 + timedelta(hours=1), organizer=MAILBOX,
                                         attendees=(Attendee("pat@fabrikam.test"), Attendee("cy@fabrikam.test"))))
    assert (await world.run(E)).state is RunState.SUCCEEDED
    items = {i.record.subject: i for i in await world.mailbox_items(E)}
    assert sorted(a.email for a in items["Mine"].record.attendees) == ["cy@fabrikam.test", "pat@fabrikam.test"]


# ---------------------------------------------------------------- e-mail rules


async def test_unknown_sender_becomes_a_contact_and_big_attachments_are_skipped(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared.graph.attachments")
    world.policy = policy(world, emails={"create_unknown_contacts": True})
    small, big = b"s" * 200, b"B" * 4000
    files = (AttachmentContent(Attachment("small.txt", len(small), "text/plain"), small),
             AttachmentContent(Attachment("big.bin", len(big)), big))
    await world.user_mailbox_create(M, EmailMessage(
        subject="Question", body="Hello", from_address="stranger@fabrikam.test", to=(MAILBOX,),
        attachments=tuple(f.meta for f in files)), files=files)
    summary = await world.run(M)
    assert summary.state is RunState.SUCCEEDED, summary
    [activity] = await world.erp_items(M)
    contact = await world.erp.gateway.find_contact_by_email("stranger@fabrikam.test")
    assert contact is not None and contact.id in activity.related_contacts
    names = [f.meta.name for f in await world.erp.gateway.read_attachments(M, activity.id, 10_000)]
    assert names == ["small.txt"]
    skips = [r.getMessage() for r in caplog.records if r.name == "shared.graph.attachments"]
    assert any("skipped 1 attachments" in m for m in skips), skips
    assert not any("big.bin" in m for m in skips)  # names are record content: not above DEBUG
    assert writes(await world.run(M)) == 0


async def test_erp_sent_mail_lands_in_sent_items(world: World) -> None:
    await world.erp.create(M, EmailMessage(subject="Offer", body="Attached.", from_address=MAILBOX,
                                           to=("pat@fabrikam.test",), incoming=False), owner=EMPLOYEE)
    summary = await world.run(M)
    assert summary.state is RunState.SUCCEEDED, summary
    sent = await world.mailbox_items(M, "sentitems")
    assert [i.record.subject for i in sent] == ["Offer"]
    assert writes(await world.run(M)) == 0


# ---------------------------------------------------------------- deletes and cancellation


async def test_task_deletes_go_both_ways(world: World) -> None:
    a = await world.erp.create(T, Task(title="erp side", due_at=T0), owner=EMPLOYEE)
    await world.erp.create(T, Task(title="mailbox side", due_at=T0), owner=EMPLOYEE)
    assert (await world.run(T)).state is RunState.SUCCEEDED
    await world.erp.delete(T, a)
    [b] = [i for i in await world.mailbox_items(T) if i.record.title == "mailbox side"]
    [gone] = await world.mailbox_gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.DELETE, T, await world.container(T), item_id=b.id)])
    assert gone.ok
    summary = await world.run(T)
    assert summary.state is RunState.SUCCEEDED, summary
    assert await world.mailbox_items(T) == [] and await world.erp_items(T) == []


async def test_cancelled_erp_event_removes_the_appointment(world: World) -> None:
    ev = Event(subject="Demo", start=T0, end=T0 + timedelta(hours=1), organizer=MAILBOX,
               attendees=(Attendee("pat@fabrikam.test"),))
    erp_id = await world.erp.create(E, ev)
    assert (await world.run(E)).state is RunState.SUCCEEDED
    assert len(await world.mailbox_items(E)) == 1
    await world.erp.update(E, erp_id, dataclasses.replace(ev, cancelled=True))
    summary = await world.run(E)
    assert summary.state is RunState.SUCCEEDED, summary
    assert await world.mailbox_items(E) == []


@pytest.mark.parametrize("direction", ["system_to_exchange", "exchange_to_system"])
@pytest.mark.parametrize("record_type", [T, E])
async def test_tasks_and_events_one_way(world: World, record_type: RecordType, direction: str) -> None:
    section = "tasks" if record_type is T else "events"
    world.policy = policy(world, **{section: {"direction": direction}})
    if record_type is T:
        from_erp: Record = Task(title="from erp", due_at=T0)
        from_mailbox: Record = Task(title="from mailbox", due_at=T0)
        await world.erp.create(T, from_erp, owner=EMPLOYEE)
    else:
        from_erp = Event(subject="from erp", start=T0, end=T0 + timedelta(hours=1), organizer=MAILBOX)
        from_mailbox = Event(subject="from mailbox", start=T0, end=T0 + timedelta(hours=1), organizer=MAILBOX)
        await world.erp.create(E, from_erp)
    await world.user_mailbox_create(record_type, from_mailbox)
    summary = await world.run(record_type)
    assert summary.state is RunState.SUCCEEDED, summary

    def title(r: Record) -> str:
        return r.title if isinstance(r, Task) else r.subject  # type: ignore[union-attr]

    mailbox = sorted(title(i.record) for i in await world.mailbox_items(record_type))
    erp = sorted(title(i.record) for i in await world.erp_items(record_type))
    if direction == "system_to_exchange":
        assert mailbox == ["from erp", "from mailbox"] and erp == ["from erp"]
    else:
        assert erp == ["from erp", "from mailbox"] and mailbox == ["from mailbox"]
    assert writes(await world.run(record_type)) == 0
