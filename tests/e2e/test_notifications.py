"""End to end: a Graph change notification brings a new e-mail to the ERP without the schedule."""

from __future__ import annotations

from tests.e2e.conftest import Clients, settled, wait_for
from tests.e2e.test_serve_stack import ANN, v


async def test_email_dropped_into_synced_folder_reaches_erp_via_notification(clients: Clients) -> None:
    c = clients
    sim = c.stack.graph.base_url
    assert (await c.graph.post("/_sim/users", json={"userPrincipalName": ANN})).status_code == 201
    await c.erp.post("/_sim/seed", json={"Employee": [{"EmployeeID": v("EP00000001"), "EmployeeName": v("Ann"),
                                                        "ContactInfo": {"Email": v(ANN)}}]})
    await c.erp_put("Contact", {"FirstName": v("Bea"), "LastName": v("Buyer"), "Email": v("bea@customer.test"),
                                "Owner": v("EP00000001")})
    await c.pushes_delivered()  # the contact's push is handled before Ann's mailbox exists: no run yet
    assert (await c.api.post("/servers", json={"name": "m365", "client_id": "app",
                                               "graph_base_url": f"{sim}/v1.0"})).status_code == 201
    assert (await c.api.put(f"/servers/m365/mailboxes/{ANN}",
                            json={"employee_id": "EP00000001"})).status_code == 201
    init = (await c.api.post("/servers/m365/initialize", json={})).json()
    folder = init["mailboxes"][0]["containers"]["email"]
    assert init["subscriptions"]["created"] >= 1  # initialize starts change notifications at once

    subs = (await c.graph.get("/v1.0/subscriptions")).json()["value"]
    assert any(f"mailFolders/{folder}/messages" in s["resource"] for s in subs), subs
    status = (await c.api.get(f"/mailboxes/{ANN}/status")).json()
    assert status["last_run"] is None  # nothing synced yet: no schedule ran

    r = await c.graph.post(f"/v1.0/users/{ANN}/mailFolders/{folder}/messages", json={
        "subject": "Order 4711 confirmed", "body": {"contentType": "text", "content": "Thanks!"},
        "from": {"emailAddress": {"address": "bea@customer.test", "name": "Bea Buyer"}},
        "toRecipients": [{"emailAddress": {"address": ANN}}]})
    assert r.status_code == 201, r.text

    async def in_erp() -> bool:
        emails = await c.erp_list("Email")
        return any((e.get("Subject") or {}).get("value") == "Order 4711 confirmed" for e in emails)

    await wait_for(in_erp, limit=60, what="the e-mail activity in the ERP")

    # our own writes echo back as notifications; those (coalesced) runs write nothing
    await wait_for(lambda: settled(c, ANN, ""), limit=60, what="the echo runs to finish")
    status = (await c.api.get(f"/mailboxes/{ANN}/status")).json()
    assert status["last_run"]["state"] == "succeeded", status
    assert c.stack.host.invocations.get("schedule", 0) == 0
    assert c.stack.host.invocations.get("graph_notifications", 0) >= 1
