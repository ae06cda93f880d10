"""End to end: a system mailbox (support@) over the serve stack — Azurite, both simulators, the local
host — driven only through the admin API, Graph notifications and the simulators' admin surfaces.

A customer's mail is delivered into the shared mailbox's Inbox by the Graph simulator
(``/_sim/deliver``); its notification reaches ``/api/graph/notifications``, the processing run
is queued and runs in the host, and the results are read back from Acumatica and Graph.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue.aio import QueueClient

from devhost.serve import running_stack
from devhost.services import free_port
from functions._runtime import get_runtime
from shared.admin import pending
from shared.mailproc import intake
from tests.e2e.conftest import Clients, wait_for
from tests.e2e.test_serve_stack import run_cli

# One stack for the module (starting one takes seconds); each test starts from an empty tenant, ERP
# and state (see ``clients``).
pytestmark = pytest.mark.asyncio(loop_scope="module")
STATE_KINDS = ("system_mailboxes", "system_subscriptions", "mailproc_msg", "mailproc_conv", "mailproc_intent",
               "mailproc_reply", "pending")

SUPPORT = "support@contoso.test"
CAROL = "carol@customer.test"
SELECT = "subject,internetMessageHeaders,conversationId,internetMessageId,toRecipients"
CONFIRM = {"subject": "RE: {subject}", "body": "Dear {sender_name}, we opened case {case_id} for: {subject}"}


def v(value: object) -> dict[str, object]:
    return {"value": value}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack_clients() -> AsyncIterator[Clients]:
    async with running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(), key="e2e-key",
                             timers=False) as stack:
        api = httpx.AsyncClient(base_url=stack.api, headers={"x-functions-key": stack.key}, timeout=30)
        graph = httpx.AsyncClient(base_url=stack.graph.base_url, timeout=30,
                                  headers={"Authorization": "Bearer e2e", "Prefer": 'IdType="ImmutableId"'})
        erp = httpx.AsyncClient(base_url=stack.erp.base_url, timeout=30)
        try:
            yield Clients(stack, api, graph, erp)
        finally:
            for client in (api, graph, erp):
                await client.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def clients(stack_clients: Clients) -> AsyncIterator[Clients]:
    """The module's stack, emptied: simulators reset, system-mailbox state and the server removed."""
    c = stack_clients
    rt = await get_runtime()
    await c.graph.post("/_sim/reset")
    await c.erp.post("/_sim/reset")
    login = await c.erp.post("/entity/auth/login", json={"name": "admin", "password": "setup", "tenant": "Company"})
    assert login.status_code == 204, login.text
    for kind in STATE_KINDS:
        for key, _ in await rt.state.list_docs(kind):
            await rt.state.delete_doc(kind, key)
    await rt.state.delete_cursor(SUPPORT, intake.CURSOR)
    if await rt.state.get_server("m365") is not None:
        await rt.state.delete_server("m365")
    yield c
    await idle(c)


async def setup(c: Clients, *, subscribe: bool = True, **incoming: Any) -> None:
    """A shared support@ mailbox, Carol as an ERP contact, the server and the system mailbox."""
    assert (await c.graph.post("/_sim/users", json={"userPrincipalName": SUPPORT, "displayName": "Support",
                                                    "shared": True})).status_code == 201
    await c.erp_put("Contact", {"FirstName": v("Carol"), "LastName": v("King"), "Email": v(CAROL)})
    sim = c.stack.graph.base_url
    assert (await c.api.post("/servers", json={"name": "m365", "client_id": "app",
                                               "graph_base_url": f"{sim}/v1.0"})).status_code == 201
    body = {"address": SUPPORT, "server": "m365", "display_name": "Contoso Support",
            "incoming": {"case_class": "SUPPORT", "tag_prefix": "SUP", "confirm_receipt": CONFIRM, **incoming}}
    made = await c.api.post("/system-mailboxes", json=body)
    assert made.status_code == 201, made.text
    if subscribe:
        await c.run_timer("subscription_keeper")
        await wait_for(lambda: _subscribed(c), limit=30, what="the Inbox subscription")


async def _subscribed(c: Clients) -> bool:
    subs = (await c.graph.get("/v1.0/subscriptions")).json()["value"]
    return any("mailFolders('Inbox')" in s["resource"] and SUPPORT in s["resource"] for s in subs)


async def deliver(c: Clients, **spec: Any) -> dict[str, Any]:
    body = {"to": SUPPORT, "from": CAROL, "fromName": "Carol King", "subject": "Printer broken",
            "body": "It jams on page 2.", **spec}
    response = await c.graph.post("/_sim/deliver", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def emails(c: Clients) -> list[dict[str, Any]]:
    return await c.erp_list("Email")


def method(email: dict[str, Any]) -> str:
    found = re.search(r"exsync-thread:(\w+)", (email.get("note") or {}).get("value") or "")
    return found.group(1) if found else ""


async def sent(c: Clients) -> list[dict[str, Any]]:
    rows = await c.graph_list(f"users/{SUPPORT}/mailFolders/sentitems/messages?$select={SELECT}")
    return rows


def headers(row: dict[str, Any]) -> dict[str, str]:
    return {h["name"].lower(): h["value"] for h in row.get("internetMessageHeaders") or []}


async def filed(c: Clients, count: int) -> None:
    async def enough() -> bool:
        return len(await emails(c)) >= count

    await wait_for(enough, limit=60, what=f"{count} e-mail(s) filed in the ERP")
    await idle(c)


async def idle(c: Clients) -> None:
    """Nothing waits on the processing queue (coalescing marks are gone, no message is left, not even
    an invisible one the host will take later) and no run holds the lease: a message left by one
    test must not process the next test's mail."""
    rt = await get_runtime()
    name = f"{rt.settings.sync_queue}-inbox"
    async with QueueClient.from_connection_string(c.stack.env["AzureWebJobsStorage"], name) as queue:

        async def quiet() -> bool:
            waiting = await pending.describe(rt.state, f"inbox|{SUPPORT}")
            try:
                left = (await queue.get_queue_properties()).approximate_message_count
            except ResourceNotFoundError:  # nothing was ever queued
                left = 0
            free = await rt.state.acquire_lease(f"mailproc:{SUPPORT}", "probe", 1)
            if free:
                await rt.state.release_lease(f"mailproc:{SUPPORT}", "probe")
            return waiting is None and not left and free

        await wait_for(quiet, limit=60, what="the processing queue to drain")


async def test_new_mail_becomes_one_case_and_one_threaded_confirmation(clients: Clients) -> None:
    c = clients
    await setup(c)
    original = await deliver(c)
    await filed(c, 1)
    [case] = await c.erp_list("Case")
    [contact] = await c.erp_list("Contact")
    assert case["ClassID"]["value"] == "SUPPORT" and case["ContactID"]["value"] == contact["ContactID"]["value"]
    [email] = await emails(c)
    assert email["RelatedEntityType"]["value"] == "PX.Objects.CR.CRCase"
    assert email["RelatedEntityNoteID"]["value"] == case["id"] and method(email) == "new"
    [reply] = await sent(c)
    h = headers(reply)
    assert h["in-reply-to"] == original["internetMessageId"] and original["internetMessageId"] in h["references"]
    assert h["auto-submitted"] == "auto-generated" and h["x-auto-response-suppress"] == "All"
    assert reply["conversationId"] == original["conversationId"]
    assert reply["subject"] == f"RE: Printer broken [SUP#{case['CaseID']['value']}]"
    message = (await c.graph.get(f"/v1.0/users/{SUPPORT}/messages/{original['id']}")).json()
    assert message["isRead"] is True  # after processing: mark read (the default)

    # an unknown sender gets a contact (the default for unknown senders), then the case
    await deliver(c, **{"from": "dave@newcorp.test", "fromName": "Dave Ng", "subject": "Quote please"})
    await filed(c, 2)
    assert {x["Email"]["value"] for x in await c.erp_list("Contact")} == {CAROL, "dave@newcorp.test"}
    assert len(await c.erp_list("Case")) == 2 and len(await sent(c)) == 2


async def test_replies_thread_by_headers_tag_and_conversation(clients: Clients) -> None:
    c = clients
    await setup(c)
    original = await deliver(c)
    await filed(c, 1)
    [case] = await c.erp_list("Case")
    number = case["CaseID"]["value"]
    [confirmation] = await sent(c)
    ours = confirmation["internetMessageId"]

    await deliver(c, subject="RE: Printer broken", headers={"In-Reply-To": ours, "References": ours})
    await filed(c, 2)
    await deliver(c, subject=f"Still broken [SUP#{number}]")               # only the tag
    await filed(c, 3)
    await deliver(c, subject="Different words entirely", headers={"References": original["internetMessageId"]})
    await filed(c, 4)
    await deliver(c, subject="FW: printer", conversationId=original["conversationId"])  # neither: conversation
    await filed(c, 5)
    by_method = sorted(method(e) for e in await emails(c))
    assert by_method == ["conversation", "headers", "headers", "new", "tag"]
    assert {e["RelatedEntityNoteID"]["value"] for e in await emails(c)} == {case["id"]}
    assert len(await c.erp_list("Case")) == 1 and len(await sent(c)) == 1  # replies confirm nothing new

    await deliver(c, subject=f"New printer [OTH#{number}]")  # another installation's tag: a new case
    await deliver(c, subject="Forwarded: toner")                   # neither headers, tag nor conversation
    await filed(c, 7)
    assert len(await c.erp_list("Case")) == 3
    assert sorted(method(e) for e in await emails(c)).count("new") == 3


async def test_closed_case_is_reopened_by_a_reply(clients: Clients) -> None:
    c = clients
    await setup(c)
    await deliver(c)
    await filed(c, 1)
    [case] = await c.erp_list("Case")
    await c.erp_put("Case", {"id": case["id"], "Status": v("Closed")})
    await deliver(c, subject=f"RE: [SUP#{case['CaseID']['value']}] it is back")
    await filed(c, 2)
    [again] = await c.erp_list("Case")
    assert again["Status"]["value"] == "Open" and again["ClosingDate"]["value"] is None


async def test_noise_and_loops_create_nothing_and_send_at_most_one_reply(clients: Clients) -> None:
    c = clients
    await setup(c)
    await deliver(c, subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
    await deliver(c, **{"from": "MAILER-DAEMON@mx.customer.test", "subject": "Undeliverable"},
                  headers={"Content-Type": "multipart/report; report-type=delivery-status"})
    await deliver(c, subject="Our newsletter", headers={"Precedence": "bulk"})
    await deliver(c, **{"from": SUPPORT, "subject": "From ourselves"})
    await idle(c)
    assert await c.erp_list("Case") == [] and await emails(c) == [] and await sent(c) == []

    # a real message, then an auto-responder answering our confirmation twenty times
    await deliver(c)
    await filed(c, 1)
    [confirmation] = await sent(c)
    for n in range(20):
        await deliver(c, subject=f"Automatic reply {n}: RE: Printer broken",
                      headers={"Auto-Submitted": "auto-replied", "In-Reply-To": confirmation["internetMessageId"],
                               "X-Auto-Response-Suppress": "All"})
    await idle(c)
    assert len(await sent(c)) == 1 and len(await c.erp_list("Case")) == 1 and len(await emails(c)) == 1
    stamped = await c.graph_list(f"users/{SUPPORT}/mailFolders/inbox/messages?$top=50")
    assert len(stamped) == 25


async def test_replayed_notifications_a_crash_and_two_workers_file_once(clients: Clients) -> None:
    c = clients
    await setup(c)
    # the stamp (after the ERP write) fails once: the run stops between the ERP write and its bookkeeping
    fault = {"path": f"/users/{SUPPORT}/messages/", "method": "PATCH", "status": 400, "count": 1}
    assert (await c.graph.post("/_sim/faults", json=fault)).status_code in (200, 201)
    await deliver(c)
    await filed(c, 1)
    [sub] = [s for s in (await c.graph.get("/v1.0/subscriptions")).json()["value"] if SUPPORT in s["resource"]]
    note = {"value": [{"subscriptionId": sub["id"], "clientState": c.stack.env["EXSYNC_GRAPH_CLIENT_STATE"],
                       "changeType": "created", "resource": sub["resource"]}]}
    for _ in range(3):  # the same notification, delivered three more times
        response = await c.api.post("/graph/notifications", json=note)
        assert response.status_code == 202, response.text
    rt = await get_runtime()
    reports = await asyncio.gather(intake.process_inbox(rt, SUPPORT), intake.process_inbox(rt, SUPPORT))
    assert {r.state for r in reports} <= {"done", "busy"}
    await idle(c)
    await intake.process_inbox(rt, SUPPORT)
    assert len(await c.erp_list("Case")) == 1 and len(await emails(c)) == 1
    assert len(await sent(c)) <= 1
    message = (await c.graph_list(f"users/{SUPPORT}/mailFolders/inbox/messages"))[0]
    assert message["isRead"] is True


async def test_a_lost_notification_is_caught_by_the_scheduled_delta(clients: Clients) -> None:
    c = clients
    await setup(c, subscribe=False)  # no subscription: no notification will come
    await deliver(c)
    await asyncio.sleep(0.5)
    assert await emails(c) == []
    await c.run_timer("schedule")
    await filed(c, 1)
    assert len(await c.erp_list("Case")) == 1


async def test_dry_run_lists_decisions_and_writes_nothing(clients: Clients) -> None:
    c = clients
    await setup(c, subscribe=False)
    await deliver(c)
    await deliver(c, subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
    await deliver(c, **{"from": "erin@unknown.test", "subject": "Hello"})
    graph_before = len((await c.graph.get("/_sim/requests")).json())
    erp_before = len((await c.erp.get("/_sim/requests")).json())
    response = await c.api.post(f"/system-mailboxes/{SUPPORT}/dry-run", params={"last": "5"})
    assert response.status_code == 200, response.text
    decisions = {d["subject"]: d for d in response.json()["decisions"]}
    assert decisions["Printer broken"]["branch"] == "new_case_contact"
    assert decisions["Out of office"]["outcome"] == "ignore_auto"
    assert decisions["Hello"]["branch"] == "new_case_create_contact"
    assert all(d["method"] in ("new", "none") for d in decisions.values())
    graph_after = (await c.graph.get("/_sim/requests")).json()[graph_before:]
    erp_after = (await c.erp.get("/_sim/requests")).json()[erp_before:]
    assert graph_after and {r["method"] for r in graph_after} == {"GET"}
    assert {r["method"] for r in erp_after if not r["path"].startswith("/entity/auth")} == {"GET"}
    assert await emails(c) == [] and await sent(c) == []
    bad = await c.api.post(f"/system-mailboxes/{SUPPORT}/dry-run", params={"last": "500"})
    assert bad.status_code == 400 and "last" in bad.text


async def test_resource_validation_etag_and_test_action(clients: Clients) -> None:
    c = clients
    await setup(c)
    bad = await c.api.post("/system-mailboxes", json={"address": "x", "server": "nope",
                                                      "incoming": {"after_processing": "move", "bogus": 1}})
    assert bad.status_code == 400
    fields = {f["field"] for f in bad.json()["fields"]}  # the one error shape: [{"field", "message"}]
    assert "address" in fields and any("bogus" in f for f in fields)
    missing_server = await c.api.post("/system-mailboxes", json={"address": "sales@contoso.test", "server": "nope"})
    assert missing_server.status_code == 400 and "server" in missing_server.text
    contradiction = await c.api.put("/system-mailboxes/sales@contoso.test", json={
        "server": "m365", "incoming": {"new_conversation": "create_case", "case_class": None}})
    assert contradiction.status_code == 400 and "incoming.case_class" in contradiction.text
    got = await c.api.get(f"/system-mailboxes/{SUPPORT}")
    etag = got.headers["ETag"]
    changed = {**got.json(), "display_name": "Help desk"}
    ok = await c.api.put(f"/system-mailboxes/{SUPPORT}", json=changed, headers={"If-Match": etag})
    assert ok.status_code == 200
    stale = await c.api.put(f"/system-mailboxes/{SUPPORT}", json=changed, headers={"If-Match": etag})
    assert stale.status_code == 412
    test = (await c.api.post(f"/system-mailboxes/{SUPPORT}/test")).json()
    assert test["ok"] is True, test
    assert {f["check"] for f in test["findings"]} >= {"mailbox exists", "inbox readable", "inbox subscription"}
    await c.graph.post("/_sim/scope", json={"mailboxes": ["someone@contoso.test"]})
    scoped = (await c.api.post(f"/system-mailboxes/{SUPPORT}/test")).json()
    assert scoped["ok"] is False
    assert [f["check"] for f in scoped["findings"] if not f["ok"]] == ["inbox readable", "can write messages"]
    await c.graph.post("/_sim/scope", json={"mailboxes": None})
    doc = await c.api.get("/openapi.json")
    assert "/system-mailboxes/{address}/dry-run" in str(doc.json()["paths"])
    code, listed = await run_cli(c, "system-mailboxes", "list")
    assert code == 0 and [m["display_name"] for m in listed] == ["Help desk"]
    code, dry = await run_cli(c, "system-mailboxes", "dry-run", SUPPORT, "--last", "3")
    assert code == 0 and dry == {"address": SUPPORT, "decisions": []}
    code, refused = await run_cli(c, "system-mailboxes", "get", "nobody@contoso.test")
    assert code == 1 and refused["error"] == 404


async def test_attachments_within_allowed_types_and_size_are_filed(clients: Clients) -> None:
    c = clients
    await setup(c, subscribe=False, allowed_attachment_types=["pdf", "png"], max_attachment_kb=1,
                after_processing="move", move_to_folder="Processed")
    got = await deliver(c)
    for name, size in (("invoice.pdf", 100), ("photo.png", 4000), ("script.exe", 10)):
        body = {"@odata.type": "#microsoft.graph.fileAttachment", "name": name,
                "contentBytes": base64.b64encode(b"x" * size).decode()}
        made = await c.graph.post(f"/v1.0/users/{SUPPORT}/messages/{got['id']}/attachments", json=body)
        assert made.status_code == 201, made.text
    await c.run_timer("schedule")
    await filed(c, 1)
    [email] = await c.erp_list("Email", **{"$expand": "files"})
    assert [f["filename"].rsplit("\\", 1)[-1] for f in email["files"]] == ["invoice.pdf"]
    folders = await c.graph_list(f"users/{SUPPORT}/mailFolders?$filter=displayName eq 'Processed'")
    moved = await c.graph_list(f"users/{SUPPORT}/mailFolders/{folders[0]['id']}/messages")
    assert [m["subject"] for m in moved] == ["Printer broken"]
