"""Graph simulator: internetMessageHeaders, createReply/reply/replyAll threading, MIME send, shared
mailboxes and the RBAC scope."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.sim_graph.conftest import A, B, error_code, user

CUSTOMER = "carol@customer.test"
SELECT = {"$select": "subject,internetMessageHeaders,conversationId,internetMessageId,toRecipients,ccRecipients"}


def _deliver(admin: httpx.Client, **spec: Any) -> dict[str, Any]:
    response = admin.post("/deliver", json={"to": A, "from": CUSTOMER, "subject": "Printer broken",
                                            "body": "It jams.", **spec})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _headers(row: dict[str, Any]) -> dict[str, str]:
    return {h["name"].lower(): h["value"] for h in row.get("internetMessageHeaders") or []}


def _sent(graph: httpx.Client) -> list[dict[str, Any]]:
    response = graph.get(user("/mailFolders/sentitems/messages"), params=SELECT)
    assert response.status_code == 200, response.text
    return response.json()["value"]  # type: ignore[no-any-return]


def test_headers_only_when_selected(graph: httpx.Client, admin: httpx.Client) -> None:
    got = _deliver(admin, headers={"Auto-Submitted": "auto-replied", "Precedence": "bulk"})
    plain = graph.get(user(f"/messages/{got['id']}")).json()
    assert "internetMessageHeaders" not in plain
    selected = graph.get(user(f"/messages/{got['id']}"), params=SELECT).json()
    assert _headers(selected)["auto-submitted"] == "auto-replied"
    assert _headers(selected)["message-id"] == got["internetMessageId"]


def test_json_headers_must_be_x_headers(graph: httpx.Client) -> None:
    message = {"subject": "hi", "toRecipients": [{"emailAddress": {"address": CUSTOMER}}]}
    bad = graph.post(user("/messages"), json={**message, "internetMessageHeaders": [
        {"name": "In-Reply-To", "value": "<x@y>"}]})
    assert bad.status_code == 400 and error_code(bad) == "InvalidInternetMessageHeader"
    bad_send = graph.post(user("/sendMail"), json={"message": {**message, "internetMessageHeaders": [
        {"name": "Auto-Submitted", "value": "auto-generated"}]}})
    assert bad_send.status_code == 400 and error_code(bad_send) == "InvalidInternetMessageHeader"
    good = graph.post(user("/sendMail"), json={"message": {**message, "internetMessageHeaders": [
        {"name": "X-Auto-Response-Suppress", "value": "All"}]}})
    assert good.status_code == 202
    assert _headers(_sent(graph)[0])["x-auto-response-suppress"] == "All"


def test_create_reply_then_send_is_threaded(graph: httpx.Client, admin: httpx.Client) -> None:
    got = _deliver(admin, headers={"References": "<older@customer.test>"})
    draft = graph.post(user(f"/messages/{got['id']}/createReply"), json={"comment": "We are on it"})
    assert draft.status_code == 201, draft.text
    row = draft.json()
    assert row["subject"] == "RE: Printer broken" and row["isDraft"] is True
    assert row["conversationId"] == got["conversationId"]
    assert [r["emailAddress"]["address"] for r in row["toRecipients"]] == [CUSTOMER]
    assert graph.post(user(f"/messages/{row['id']}/send")).status_code == 202
    [sent] = _sent(graph)
    headers = _headers(sent)
    assert headers["in-reply-to"] == got["internetMessageId"]
    assert headers["references"] == f"<older@customer.test> {got['internetMessageId']}"
    assert sent["conversationId"] == got["conversationId"]


def test_reply_and_reply_all_send_at_once(graph: httpx.Client, admin: httpx.Client) -> None:
    got = _deliver(admin)
    inbox_row = graph.get(user(f"/messages/{got['id']}")).json()
    assert graph.patch(user(f"/messages/{got['id']}"), json={"ccRecipients": []}).status_code == 400
    assert graph.post(user(f"/messages/{got['id']}/reply"), json={"comment": "Thanks"}).status_code == 202
    [sent] = _sent(graph)
    assert _headers(sent)["in-reply-to"] == got["internetMessageId"]
    assert sent["conversationId"] == inbox_row["conversationId"]
    other = _deliver(admin, subject="Group", headers={})
    graph.patch(user(f"/messages/{other['id']}"), json={"isRead": True})
    assert graph.post(user(f"/messages/{other['id']}/replyAll"), json={"comment": "x"}).status_code == 202
    assert graph.post(user(f"/messages/{other['id']}/reply"), json={"bogus": 1}).status_code == 400


def _mime(*lines: str) -> str:
    return base64.b64encode("\r\n".join(lines).encode()).decode()


def test_mime_send_keeps_every_header_and_the_conversation(graph: httpx.Client, admin: httpx.Client) -> None:
    got = _deliver(admin)
    mime = _mime(f"From: {A}", f"To: {CUSTOMER}", "Subject: RE: Printer broken [SUP#000001]",
                 f"In-Reply-To: {got['internetMessageId']}", f"References: {got['internetMessageId']}",
                 "Auto-Submitted: auto-generated", "X-Auto-Response-Suppress: All", "Message-ID: <ours-1@contoso.test>",
                 "Content-Type: text/plain; charset=utf-8", "", "We received your message.")
    sent = graph.post(user("/sendMail"), content=mime, headers={"Content-Type": "text/plain"})
    assert sent.status_code == 202, sent.text
    [row] = _sent(graph)
    headers = _headers(row)
    assert headers["auto-submitted"] == "auto-generated" and headers["in-reply-to"] == got["internetMessageId"]
    assert row["conversationId"] == got["conversationId"] and row["internetMessageId"] == "<ours-1@contoso.test>"
    assert row["subject"] == "RE: Printer broken [SUP#000001]"
    broken = graph.post(user("/sendMail"), content="%%% not base64", headers={"Content-Type": "text/plain"})
    assert broken.status_code == 400 and error_code(broken) == "ErrorMimeContentInvalidBase64String"
    draft = graph.post(user("/messages"), content=_mime(f"To: {B}", "Subject: draft", "", "body"),
                       headers={"Content-Type": "text/plain"})
    assert draft.status_code == 201 and draft.json()["isDraft"] is True


def test_shared_mailbox_and_rbac_scope(graph: httpx.Client, admin: httpx.Client) -> None:
    shared = admin.post("/users", json={"userPrincipalName": "support@contoso.test", "shared": True}).json()
    assert shared["accountEnabled"] is False and shared["assignedLicenses"] == []
    assert graph.get(user("/mailFolders/inbox", "support@contoso.test")).status_code == 200
    admin.post("/scope", json={"mailboxes": ["support@contoso.test"]}).raise_for_status()
    denied = graph.get(user("/mailFolders/inbox", A))
    assert denied.status_code == 403 and error_code(denied) == "ErrorAccessDenied"
    assert graph.get(user("/mailFolders/inbox", "support@contoso.test")).status_code == 200
    admin.post("/scope", json={"mailboxes": None}).raise_for_status()
    assert graph.get(user("/mailFolders/inbox", A)).status_code == 200
