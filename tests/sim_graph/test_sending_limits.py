"""Exchange's sending limits in the Graph simulator: per mailbox, Exchange's errors, nothing half-sent."""

from __future__ import annotations

import httpx

from tests.sim_graph.conftest import A, B, error_code, user


def _mail(to: list[str]) -> dict[str, object]:
    return {"message": {"subject": "Invoice", "body": {"contentType": "text", "content": "Hi"},
                        "toRecipients": [{"emailAddress": {"address": a}} for a in to]}}


def _sent(graph: httpx.Client, upn: str = A) -> int:
    return len(graph.get(user("/mailFolders/sentitems/messages", upn), params={"$top": "100"}).json()["value"])


def test_30_messages_a_minute_per_mailbox(graph: httpx.Client, admin: httpx.Client) -> None:
    for _ in range(30):
        assert graph.post(user("/sendMail"), json=_mail(["c@customer.test"])).status_code == 202
    refused = graph.post(user("/sendMail"), json=_mail(["c@customer.test"]))
    assert refused.status_code == 429 and error_code(refused) == "ErrorExceededMessageLimit"
    assert int(refused.headers["Retry-After"]) >= 1
    assert graph.post(user("/sendMail", B), json=_mail(["c@customer.test"])).status_code == 202  # per mailbox
    assert _sent(graph) == 30
    state = admin.get("/sending").json()
    assert state["accepted"][A] == 30 and state["refusals"][A] == {"ErrorExceededMessageLimit": 1}


def test_500_recipients_a_message_and_10000_a_day(graph: httpx.Client, admin: httpx.Client) -> None:
    too_many = graph.post(user("/sendMail"), json=_mail([f"r{i}@customer.test" for i in range(501)]))
    assert too_many.status_code == 400 and error_code(too_many) == "ErrorExceededMaxRecipientLimit"
    assert admin.post("/sending", json={"recipients_per_day": 1000}).status_code == 200
    big = [f"r{i}@customer.test" for i in range(500)]
    assert graph.post(user("/sendMail"), json=_mail(big)).status_code == 202
    assert graph.post(user("/sendMail"), json=_mail(big)).status_code == 202
    over = graph.post(user("/sendMail"), json=_mail(["one.more@customer.test"]))
    assert over.status_code == 403 and error_code(over) == "ErrorSubmissionQuotaExceeded"
    assert _sent(graph) == 2
    assert admin.post("/sending", json={"bogus": 1}).status_code == 400


def test_draft_send_and_replies_count_too(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/sending", json={"messages_per_minute": 1}).raise_for_status()
    draft = graph.post(user("/messages"), json={"subject": "x", "toRecipients": [
        {"emailAddress": {"address": "c@customer.test"}}]}).json()
    assert graph.post(user(f"/messages/{draft['id']}/send")).status_code == 202
    second = graph.post(user("/messages"), json={"subject": "y", "toRecipients": [
        {"emailAddress": {"address": "c@customer.test"}}]}).json()
    refused = graph.post(user(f"/messages/{second['id']}/send"))
    assert refused.status_code == 429
    assert graph.get(user(f"/messages/{second['id']}")).json()["isDraft"] is True  # still a draft, not sent
