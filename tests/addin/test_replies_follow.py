"""Filing a conversation once makes its later replies follow onto the same record through the sync
engine's e-mail path: Cy files a mail to a case from the pane, the customer replies, and the next
sync run of Cy's mailbox (its policy syncs the Inbox) files the reply to that case in the Acumatica
simulator, once; the filed mail itself is paired with the add-in's Email, not copied."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.addin.conftest import AddinStack, v

CY = "cy@contoso.test"
IVY = "ivy@tailwind.test"


def _admin(s: AddinStack) -> httpx.Client:
    return httpx.Client(base_url=s.stack.api, headers={"x-functions-key": s.stack.key}, timeout=30)


def _configure_cy(s: AddinStack) -> None:
    r = s.graph.post("/_sim/users", json={"userPrincipalName": CY, "displayName": "Cy Young"})
    assert r.status_code == 201, r.text
    r = s.erp.post("/_sim/seed", json={"Employee": [{"EmployeeID": v("EP00000003"), "EmployeeName": v("Cy Young"),
                                                      "ContactInfo": {"Email": v(CY)}}]})
    assert r.status_code < 300, r.text
    with _admin(s) as api:
        r = api.post("/policies", json={"name": "inbox-mail", "emails": {"folder": "Inbox"},
                                        "contacts": {"enabled": False}, "tasks": {"enabled": False},
                                        "events": {"enabled": False}})
        assert r.status_code == 201, r.text
        r = api.put(f"/servers/m365/mailboxes/{CY}", json={"employee_id": "EP00000003", "employee_name": "Cy",
                                                           "policy": "inbox-mail"})
        assert r.status_code == 201, r.text


def _sync(s: AddinStack) -> dict[str, Any]:
    since = datetime.now(UTC).isoformat()
    with _admin(s) as api:
        assert api.post("/sync", json={"mailboxes": [CY]}).status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status: dict[str, Any] = api.get(f"/mailboxes/{CY}/status").json()
            run = status["last_run"] or {}
            if run.get("state") not in (None, "queued", "running") and status["pending"] is None \
                    and run.get("started_at", "") >= since:
                return run
            time.sleep(0.2)
    raise AssertionError(f"the sync run of {CY} did not finish: {status}")


def test_a_reply_to_a_filed_conversation_follows_onto_the_case_through_the_sync(addin_stack: AddinStack) -> None:
    s = addin_stack
    _configure_cy(s)
    ivy = s.erp_put("Contact", {"FirstName": v("Ivy"), "LastName": v("Wind"), "Email": v(IVY)})
    case = s.erp_put("Case", {"ClassID": v("SUPPORT"), "Subject": v("Pump leaks"),
                              "ContactID": v(ivy["ContactID"]["value"])})
    now = datetime.now(UTC)
    first = s.message(CY, "Pump 9 leaks", ("Ivy Wind", IVY), "Water everywhere", received=now - timedelta(minutes=5))
    with s.api(CY) as api:
        filed = api.post("/log", json={"message_id": first["id"], "target_kind": "case", "target_id": case["id"]})
    assert filed.status_code == 201, filed.text
    s.message(CY, "RE: Pump 9 leaks", ("Ivy Wind", IVY), "Still leaking", received=now + timedelta(minutes=5),
              conversationId=first["conversationId"])
    other = s.message(CY, "Lunch?", ("Ivy Wind", IVY), "Friday?", received=now + timedelta(minutes=6))

    assert _sync(s)["state"] == "succeeded"
    assert _sync(s)["state"] == "succeeded"  # a second run files nothing again

    def emails(subject: str) -> list[tuple[str, str]]:
        return [(e["RelatedEntityType"]["value"], e["RelatedEntityNoteID"]["value"]) for e in s.erp_list("Email")
                if e.get("Subject", {}).get("value") == subject]

    assert emails("RE: Pump 9 leaks") == [("PX.Objects.CR.CRCase", case["id"])]
    assert emails("Pump 9 leaks") == [("PX.Objects.CR.CRCase", case["id"])]  # the add-in's, paired
    assert emails("Lunch?") == [("PX.Objects.CR.Contact", ivy["id"])]  # another conversation: the contact
    assert other["conversationId"] != first["conversationId"]
