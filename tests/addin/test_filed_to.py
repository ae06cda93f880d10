"""'Where is this conversation filed' reads the system mailboxes' thread map (Azurite), next to the
add-in's own filings: a customer writes to support@ and Ann, support@ files it on a new case, and
Ann's pane shows that case for her copy and for a later reply in the same conversation."""

from __future__ import annotations

from typing import Any

import httpx

from shared.mailproc import intake
from tests.addin.conftest import ANN, AddinStack

SUPPORT = "support@contoso.test"
CAROL = "carol@printers.test"


async def _process_support() -> None:
    from functions._runtime import get_runtime

    await intake.process_inbox(await get_runtime(), SUPPORT)


def _deliver(s: AddinStack, to: str, **spec: Any) -> dict[str, Any]:
    r = s.graph.post("/_sim/deliver", json={"to": to, "from": CAROL, "fromName": "Carol Print",
                                            "subject": "Toner empty", "body": "Please send toner.", **spec})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_pane_shows_the_case_a_system_mailbox_filed_the_conversation_on(addin_stack: AddinStack) -> None:
    s = addin_stack
    r = s.graph.post("/_sim/users", json={"userPrincipalName": SUPPORT, "displayName": "Support", "shared": True})
    assert r.status_code == 201, r.text
    with httpx.Client(base_url=s.stack.api, headers={"x-functions-key": s.stack.key}, timeout=30) as admin:
        made = admin.post("/system-mailboxes", json={"address": SUPPORT, "server": "m365", "display_name": "Support",
                                                     "incoming": {"case_class": "SUPPORT", "tag_prefix": "SUP"}})
    assert made.status_code == 201, made.text
    original = _deliver(s, SUPPORT)
    ann_copy = _deliver(s, ANN, internetMessageId=original["internetMessageId"],
                        conversationId=original["conversationId"])
    s.run(_process_support())
    [case] = [c for c in s.erp_list("Case") if c.get("Subject", {}).get("value") == "Toner empty"]
    # a later message of the conversation that support@ never saw: found through the conversation map
    reply = _deliver(s, ANN, subject="RE: Toner empty", conversationId=original["conversationId"])
    with s.api() as api:
        shown = [api.get("/message", params={"id": m["id"]}).json()["filed"] for m in (ann_copy, reply)]
    for filed in shown:
        assert [(f["kind"], f["id"], f["source"], f["detail"]) for f in filed] == [
            ("case", case["id"], "system_mailbox", f"filed by {SUPPORT}")], filed
        assert filed[0]["key"] == case["CaseID"]["value"] and filed[0]["title"] == "Toner empty"

