"""Transactional mail over both simulators and Azurite: ERP e-mail queued for billing@ goes out once.

The state is Table Storage (Azurite), the ERP the Acumatica simulator, the mailbox the Graph
simulator — through the real adapters (AcumaticaOutbox, AcumaticaCrm, GraphMailSender on
msgraph-sdk's stack) and :func:`shared.mailsend.pickup.send_one`, the queue trigger's call. Time
is scaled: the Graph simulator's sending windows and exsync's clock run ``SCALE`` times faster, so
100 mails at 30 a minute take seconds; the assertions are on counts and on the scaled clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devhost.services import Simulator
from shared.admin.queue import SyncRequest
from shared.admin.storage_queue import StorageSyncQueue
from shared.domain.config import ServerConfig
from shared.erp import mapping
from shared.erp.acumatica import AcumaticaErpGateway
from shared.erp.outbox import ERROR_TAG
from shared.errors import RemoteError
from shared.graph.attachments import UPLOAD_CHUNK
from shared.graph.gateway import GraphMailboxGateway
from shared.mailproc import intake
from shared.mailproc.model import IncomingProcessing, Sending, SystemMailbox
from shared.mailsend import pickup
from shared.runtime import Runtime
from shared.settings import Settings
from shared.state.table import TableStateStore
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import admin as erp_admin
from tests.erp.harness import reset_simulator
from tests.graph.simulator import admin as graph_admin
from tests.graph.simulator import fresh, graph_simulator

BILLING = "res@contoso.test"   # the system mailbox (a user of the shared Graph simulator)
ACCOUNT = 7
SCALE = 10.0  # small enough that exsync's natural rate here would pass 30 a (scaled) minute
E = "/entity/Default/24.200.001"
MB = 1024 * 1024


class ScaledClock:
    """exsync's clock and sleep, ``scale`` times faster than the wall clock (like the simulator's)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        self.origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.origin) * self.scale)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.scale)


@dataclasses.dataclass
class World:
    rt: Runtime
    clock: ScaledClock
    graph: Simulator
    erp_url: str
    system: SystemMailbox

    async def erp(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.erp_url, timeout=60) as client:
            assert (await client.post("/entity/auth/login", json={"name": "admin", "password": "setup",
                                                                   "tenant": "Company"})).status_code == 204
            try:
                return await client.request(method, f"{E}{path}", **kw)
            finally:
                await client.post("/entity/auth/logout")

    async def queue(self, count: int = 1, *, files: dict[int, int] | None = None, **values: Any) -> list[str]:
        """ERP e-mails waiting for the billing account (``files``: index -> size of an attached file)."""
        rows = [mapping.wrap({"Subject": f"Invoice INV-{i:03d}", "Body": "<p>Your invoice.</p>", "Incoming": False,
                              "To": "carol@customer.test", "MailStatus": "Pending Processing",
                              "FromEmailAccountID": ACCOUNT, **values}) for i in range(count)]
        made = await erp_admin(self.erp_url, "POST", "seed", {"Email": rows})
        ids = [str(row["id"]) for row in made["Email"]]
        for index, size in (files or {}).items():
            content = b"%PDF-" + bytes(size - 5)
            put = await self.erp("PUT", f"/Email/{ids[index]}/files/invoice-{index}.pdf", content=content,
                                 headers={"Content-Type": "application/octet-stream"})
            assert put.status_code == 204, put.text
        return ids

    async def statuses(self) -> dict[str, str]:
        rows = (await self.erp("GET", "/Email", params={"$filter": "Incoming eq false"})).json()
        return {row["id"]: row["MailStatus"]["value"] for row in rows}

    async def sent(self, select: str = "id,subject") -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=f"{self.graph.base_url}/v1.0", timeout=30,
                                     headers={"Authorization": "Bearer t"}) as client:
            page = await client.get(f"/users/{BILLING}/mailFolders/sentitems/messages",
                                    params={"$top": "500", "$select": select})
            return page.json()["value"]  # type: ignore[no-any-return]

    async def run(self, budget: timedelta = timedelta(minutes=10)) -> pickup.Report | None:
        return await pickup.send_one(self.rt, BILLING, budget=budget, sleep=self.clock.sleep)

    async def set_system(self, **sending: Any) -> None:
        self.system = self.system.model_copy(update={"sending": self.system.sending.model_copy(update=sending)})
        entry = await intake.get(self.rt, BILLING)
        await intake.save(self.rt, self.system, entry.etag if entry else None, self.clock.now())


@pytest.fixture
async def world(azurite_connection_string: str, acumatica_sim: Simulator) -> AsyncIterator[World]:  # noqa: F811
    graph = graph_simulator()
    fresh(graph)
    graph_admin(graph, "POST", "/_sim/sending", {"time_scale": SCALE})
    await reset_simulator(acumatica_sim.base_url)
    await erp_admin(acumatica_sim.base_url, "POST", "email-accounts",
                    [{"id": ACCOUNT, "address": BILLING, "displayName": "Billing"}])
    suffix = uuid.uuid4().hex[:10]
    settings = Settings.from_env({"EXSYNC_STATE_CONNECTION": azurite_connection_string,
                                  "AzureWebJobsStorage": azurite_connection_string,
                                  "EXSYNC_SYNC_QUEUE": f"mail-{suffix}", "EXSYNC_TABLE_PREFIX": f"t{suffix}"})
    clock = ScaledClock(SCALE)
    store = TableStateStore.from_connection_string(azurite_connection_string, table_prefix=f"t{suffix}")
    await store.create_tables()
    gateways: list[Any] = []

    async def graph_for(server: ServerConfig) -> GraphMailboxGateway:
        gateway = GraphMailboxGateway.create(None, server.graph_base_url)
        gateways.append(gateway)
        return gateway

    async def erp_for() -> AcumaticaErpGateway:
        return AcumaticaErpGateway(acumatica_sim.base_url, username="admin", password="setup", tenant="Company")

    rt = Runtime(settings=settings, state=store, queue=None, mailbox_gateway=graph_for,  # type: ignore[arg-type]
                 erp_gateway=erp_for, clock=clock)  # type: ignore[arg-type]
    await store.put_server(ServerConfig(name="main", graph_base_url=f"{graph.base_url}/v1.0"), force=True)
    system = SystemMailbox(address=BILLING, server="main", incoming=IncomingProcessing(case_class="SUPPORT",
                           tag_prefix="SUP"), sending=Sending(erp_account_id=ACCOUNT))
    await intake.save(rt, system, None, clock.now())
    try:
        yield World(rt, clock, graph, acumatica_sim.base_url, system)
    finally:
        for gateway in gateways:
            await gateway.aclose()
        if isinstance(rt.outbox_queue, StorageSyncQueue):
            await rt.outbox_queue.client.delete_queue()
        await rt.aclose()
        await store.delete_tables()
        await store.aclose()


def sending_state(world: World) -> dict[str, Any]:
    return graph_admin(world.graph, "GET", "/_sim/sending")  # type: ignore[no-any-return]


@pytest.mark.slow
async def test_100_mails_go_out_once_at_the_30_a_minute_pace(world: World) -> None:
    ids = await world.queue(100)
    started = world.clock.now()
    report = await world.run()
    elapsed = (world.clock.now() - started).total_seconds()
    assert report is not None and report.outcomes["confirm"] == 100, report
    sent = await world.sent()
    assert sorted(m["subject"] for m in sent) == sorted(f"Invoice INV-{i:03d}" for i in range(100))
    assert set((await world.statuses()).values()) == {"Processed"} and len(ids) == 100
    state = sending_state(world)
    assert state["refusals"] == {} and state["accepted"][BILLING] == 100
    # 100 messages at 30 a minute: the 31st, 61st and 91st each wait for a full minute to pass
    assert elapsed >= 180 and report.paced >= 3, (elapsed, report.paced)
    status = await pickup.status(world.rt, BILLING)
    assert status is not None and status["recipients_last_24h"] == 100 and status["warning"] is None


async def test_a_crash_between_the_send_and_the_erp_update(world: World) -> None:
    [mail] = await world.queue(1)
    await erp_admin(world.erp_url, "POST", "faults", {"path": "/Email$", "method": "PUT", "status": 500, "count": 1})
    with pytest.raises(RemoteError):
        await world.run()
    assert len(await world.sent()) == 1 and (await world.statuses())[mail] == "Pending Processing"
    report = await world.run()
    assert report is not None and dict(report.branches) == {"IN_SENT_ITEMS": 1}
    assert len(await world.sent()) == 1 and (await world.statuses())[mail] == "Processed"
    assert sending_state(world)["accepted"][BILLING] == 1


async def test_20_mb_goes_through_an_upload_session_and_an_oversized_mail_fails(world: World) -> None:
    big, huge = await world.queue(2, files={0: 20 * MB, 1: 36 * MB})
    before = len(graph_admin(world.graph, "GET", "/_sim/requests"))
    report = await world.run()
    assert report is not None and report.outcomes == {"confirm": 1, "fail": 1}
    [message] = await world.sent("id,subject,hasAttachments")
    async with httpx.AsyncClient(base_url=f"{world.graph.base_url}/v1.0", headers={"Authorization": "Bearer t"}) as c:
        files = (await c.get(f"/users/{BILLING}/messages/{message['id']}/attachments")).json()["value"]
    assert [(f["name"], f["size"]) for f in files] == [("invoice-0.pdf", 20 * MB)]
    journal = graph_admin(world.graph, "GET", "/_sim/requests")[before:]
    chunks = [e for e in journal if e["path"].startswith("/upload/") and e["method"] == "PUT"]
    assert len(chunks) == -(-20 * MB // UPLOAD_CHUNK)
    statuses = await world.statuses()
    assert statuses == {big: "Processed", huge: "Failed"}
    row = (await world.erp("GET", f"/Email/{huge}")).json()
    note = mapping.note_text(row)
    assert f"{ERROR_TAG} an attachment is 36.0 MB; the limit is 35 MB" in note
    async with httpx.AsyncClient(base_url=f"{world.graph.base_url}/v1.0", headers={"Authorization": "Bearer t"}) as c:
        drafts = (await c.get(f"/users/{BILLING}/mailFolders/drafts/messages")).json()["value"]
    assert drafts == []  # nothing half-sent


async def test_an_agents_answer_is_threaded_and_a_notification_is_automatic(world: World) -> None:
    delivered = graph_admin(world.graph, "POST", "/_sim/deliver", {
        "to": BILLING, "from": "carol@customer.test", "subject": "Printer broken", "body": "It jams."})
    case = (await world.erp("PUT", "/Case", json=mapping.wrap({"ClassID": "SUPPORT", "Subject": "Printer broken"}))
            ).json()
    incoming = mapping.wrap({"Subject": "Printer broken", "Incoming": True, "MailStatus": "Processed",
                             "RelatedEntityType": "PX.Objects.CR.CRCase", "RelatedEntityNoteID": case["id"]})
    incoming["note"] = {"value": mapping.note_with_meta(None, message_id=delivered["internetMessageId"])}
    parent = (await erp_admin(world.erp_url, "POST", "seed", {"Email": [incoming]}))["Email"][0]["id"]
    related = {"Parent": parent, "RelatedEntityType": "PX.Objects.CR.CRCase", "RelatedEntityNoteID": case["id"]}
    [answer] = await world.queue(1, Subject="RE: Printer broken", Owner="EP00000001", **related)
    [notice] = await world.queue(1, Subject="Your case was updated", **related)
    report = await world.run()
    assert report is not None and report.outcomes == {"confirm": 2}
    rows = {m["subject"]: m for m in await world.sent("subject,internetMessageHeaders,conversationId")}
    tag = f"[SUP#{case['CaseID']['value']}]"
    reply = rows[f"RE: Printer broken {tag}"]
    headers = {h["name"].lower(): h["value"] for h in reply["internetMessageHeaders"]}
    assert headers["in-reply-to"] == delivered["internetMessageId"]
    assert reply["conversationId"] == delivered["conversationId"]
    assert "auto-submitted" not in headers  # a person wrote it
    auto = rows[f"Your case was updated {tag}"]
    auto_headers = {h["name"].lower(): h["value"] for h in auto["internetMessageHeaders"]}
    assert auto_headers["auto-submitted"] == "auto-generated" and auto_headers["x-auto-response-suppress"] == "All"
    assert auto_headers["in-reply-to"] == delivered["internetMessageId"]
    assert (await world.statuses()) == {answer: "Processed", notice: "Processed"}


async def test_suspend_stops_sending_within_a_run_and_resume_sends_what_waited(world: World) -> None:
    await world.queue(5)
    real = pickup.suspension(world.rt, BILLING)
    asked = 0

    async def suspended() -> bool:
        nonlocal asked
        asked += 1
        if asked == 3:  # after two mails went out, the operator suspends the server
            stored = await world.rt.state.get_server("main")
            assert stored is not None
            await world.rt.state.put_server(stored.value.model_copy(update={"suspend_sending": True}), stored.etag)
        return await real()

    original = pickup.suspension
    pickup.suspension = lambda rt, address: suspended  # type: ignore[assignment]
    try:
        report = await world.run()
    finally:
        pickup.suspension = original  # type: ignore[assignment]
    assert report is not None and report.outcomes == {"confirm": 2, "wait": 1, "queued": 2}
    assert len(await world.sent()) == 2
    assert list((await world.statuses()).values()).count("Pending Processing") == 3

    stored = await world.rt.state.get_server("main")
    assert stored is not None
    await world.rt.state.put_server(stored.value.model_copy(update={"suspend_sending": False}), stored.etag)
    await world.set_system(suspended=True)  # the mailbox's own switch holds it too
    report = await world.run()
    assert report is not None and report.outcomes == {"wait": 1, "queued": 2} and len(await world.sent()) == 2
    await world.set_system(suspended=False)
    report = await world.run()
    assert report is not None and report.outcomes == {"confirm": 3}
    assert len(await world.sent()) == 5 and set((await world.statuses()).values()) == {"Processed"}


async def test_schedule_and_erp_push_queue_one_sending_run(world: World) -> None:
    assert await pickup.fan_out(world.rt) == 1
    assert await pickup.fan_out(world.rt) == 0  # one run already waits
    await world.run()  # the run starts: a new change needs a new request
    push = {"Inserted": [{"FromEmailAccountID": {"value": ACCOUNT}, "MailStatus": {"value": "Pending Processing"}}],
            "Deleted": [], "Query": "OutgoingMail"}
    assert await pickup.take_push(world.rt, push) == 1
    other = {"Inserted": [{"FromEmailAccountID": {"value": 99}, "MailStatus": {"value": "Pending Processing"}}]}
    assert await pickup.take_push(world.rt, other) == 0
    queue = pickup.outbox_queue(world.rt)
    assert isinstance(queue, StorageSyncQueue)
    received = [SyncRequest.decode(m.content) async for m in queue.client.receive_messages(max_messages=10)]
    assert [(r.mailbox, r.reason) for r in received] == [(BILLING, "schedule"), (BILLING, "erp")]


async def test_doctor_flags_mail_the_erps_own_sender_sent(world: World) -> None:
    [ours] = await world.queue(1)
    await world.run()
    findings = await pickup.doctor(world.rt, BILLING)
    assert [f["ok"] for f in findings] == [True, True]
    # the account is also on the ERP's own sending: it processes what exsync has not sent yet
    await erp_admin(world.erp_url, "POST", "email-accounts",
                    [{"id": ACCOUNT, "address": BILLING, "sender": "acumatica"}])
    [theirs] = await world.queue(1, Subject="Reminder")
    assert (await erp_admin(world.erp_url, "POST", "email-accounts/process"))["processed"] == [theirs]
    sender, _ = await pickup.doctor(world.rt, BILLING)
    assert sender["ok"] is False and sender["erp_ids"] == [theirs] and "SM204002" in sender["fix"]
    assert ours not in sender["erp_ids"]
