"""End to end: a manual sync racing the ERP's pushes (and Graph notifications, and the schedule)
always ends with every change on the other side once nothing waits any more."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tests.e2e.conftest import Clients, settled, wait_for
from tests.e2e.test_serve_stack import ANN, _configure, v


async def _idle(c: Clients) -> dict[str, Any] | None:
    """The status once nothing waits, runs or is queued (None while something does)."""
    status: dict[str, Any] = (await c.api.get(f"/mailboxes/{ANN}/status")).json()
    run = status["last_run"] or {}
    if status["pending"] is None and run.get("state") not in (None, "queued", "running"):
        return status
    return None


async def _first_idle(c: Clients) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    async def idle() -> bool:
        status = await _idle(c)
        if status is not None:
            seen.append(status)
        return status is not None

    await wait_for(idle, limit=90, what="nothing waiting for the mailbox")
    return seen[0]


async def _first_sync(c: Clients) -> dict[str, Any]:
    contact = await c.erp_put("Contact", {"FirstName": v("Ada"), "LastName": v("Lovelace"),
                                          "Email": v("ada@example.com"), "Owner": v("EP00000001")})
    since = datetime.now(UTC).isoformat()
    assert (await c.api.post("/sync", json={"mailboxes": [ANN]})).status_code == 202
    await wait_for(lambda: settled(c, ANN, since), what="first sync")
    return contact


async def _edit_contact_and_add_task(c: Clients, contact: dict[str, Any]) -> None:
    await c.erp_put("Contact", {"id": contact["id"], "JobTitle": v("Chief Buyer")})
    await c.erp_put("Task", {"Summary": v("Call Ada about the order"), "Owner": v("EP00000001"),
                             "Status": v("Open")})


async def _both_changes_in_the_mailbox(c: Clients) -> tuple[list[str], list[str]]:
    contacts = await c.graph_list(f"users/{ANN}/contacts?$top=100")
    titles = [x.get("jobTitle") for x in contacts]
    tasks: list[str] = []
    for todo in await c.graph_list(f"users/{ANN}/todo/lists"):
        tasks += [t["title"] for t in await c.graph_list(f"users/{ANN}/todo/lists/{todo['id']}/tasks?$top=100")]
    return titles, tasks


async def test_manual_sync_after_erp_edits_has_both_changes_once_nothing_waits(clients: Clients) -> None:
    c = clients
    await _configure(c)
    contact = await _first_sync(c)
    await _edit_contact_and_add_task(c, contact)  # each edit pushes a one-type request
    r = await c.api.post("/sync", json={"mailboxes": [ANN]})
    assert r.status_code == 202, r.text
    status = await _first_idle(c)
    assert status["last_run"]["state"] == "succeeded", status
    titles, tasks = await _both_changes_in_the_mailbox(c)
    assert titles == ["Chief Buyer"]
    assert tasks == ["Call Ada about the order"]


async def test_manual_sync_racing_a_graph_notification_and_a_schedule_tick(clients: Clients) -> None:
    c = clients
    await _configure(c)
    contact = await _first_sync(c)
    init = await c.api.post("/servers/m365/initialize", json={})
    assert init.status_code == 200, init.text
    await _edit_contact_and_add_task(c, contact)
    outlook = await c.graph.post(f"/v1.0/users/{ANN}/contacts", json={  # notifies the host
        "givenName": "Grace", "surname": "Hopper", "emailAddresses": [{"address": "grace@example.com"}]})
    assert outlook.status_code == 201, outlook.text
    manual, _ = await asyncio.gather(c.api.post("/sync", json={"mailboxes": [ANN]}), c.run_timer("schedule"))
    assert manual.status_code == 202, manual.text
    status = await _first_idle(c)
    assert status["last_run"]["state"] == "succeeded", status
    titles, tasks = await _both_changes_in_the_mailbox(c)
    assert sorted(t or "" for t in titles) == ["", "Chief Buyer"]
    assert tasks == ["Call Ada about the order"]
    emails = sorted(x["Email"]["value"] for x in await c.erp_list("Contact") if x.get("Email"))
    assert emails == ["ada@example.com", "grace@example.com"]
