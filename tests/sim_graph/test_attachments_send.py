"""sendMail, draft send, attachments inline and through upload sessions."""

from __future__ import annotations

import base64
import os

import httpx

from tests.sim_graph.conftest import A, B, user

FILE = "#microsoft.graph.fileAttachment"


def test_send_mail_lands_in_sent_items_and_reaches_tenant_recipients(graph: httpx.Client) -> None:
    message = {"subject": "Quote", "body": {"contentType": "text", "content": "Hi"},
               "toRecipients": [{"emailAddress": {"address": B}}],
               "singleValueExtendedProperties": [
                   {"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ErpId", "value": "E-1"}],
               "attachments": [{"@odata.type": FILE, "name": "a.txt", "contentType": "text/plain",
                                "contentBytes": base64.b64encode(b"hello").decode()}]}
    response = graph.post(user("/sendMail"), json={"message": message, "saveToSentItems": True})
    assert response.status_code == 202 and response.content == b""
    sent = graph.get(user("/mailFolders/sentitems/messages"), params={"$expand": "attachments"}).json()["value"]
    assert len(sent) == 1
    assert sent[0]["isDraft"] is False and sent[0]["subject"] == "Quote"
    assert sent[0]["internetMessageId"].startswith("<") and sent[0]["conversationId"]
    assert sent[0]["from"]["emailAddress"]["address"] == A
    assert sent[0]["hasAttachments"] is True and sent[0]["attachments"][0]["name"] == "a.txt"
    received = graph.get(user("/mailFolders/inbox/messages", B)).json()["value"]
    assert [m["internetMessageId"] for m in received] == [sent[0]["internetMessageId"]]
    assert received[0]["isRead"] is False
    assert graph.get(user("/mailFolders/drafts/messages")).json()["value"] == []


def test_send_mail_rejects_bad_bodies(graph: httpx.Client) -> None:
    no_rcpt = graph.post(user("/sendMail"), json={"message": {"subject": "x"}})
    assert no_rcpt.status_code == 400 and no_rcpt.json()["error"]["code"] == "ErrorInvalidRecipients"
    unknown = graph.post(user("/sendMail"), json={"message": {"subject": "x"}, "urgent": True})
    assert unknown.status_code == 400
    bad_prop = graph.post(user("/sendMail"), json={"message": {"subjekt": "x"}})
    assert bad_prop.status_code == 400 and "'subjekt'" in bad_prop.json()["error"]["message"]


def test_draft_send_moves_it_to_sent_items(graph: httpx.Client) -> None:
    draft = graph.post(user("/messages"), json={"subject": "d", "toRecipients": [
        {"emailAddress": {"address": "x@fabrikam.test"}}]}, headers={"Prefer": 'IdType="ImmutableId"'}).json()
    assert graph.post(user(f"/messages/{draft['id']}/send")).status_code == 202
    sent = graph.get(user(f"/messages/{draft['id']}"), headers={"Prefer": 'IdType="ImmutableId"'}).json()
    sent_folder = graph.get(user("/mailFolders/sentitems")).json()
    assert sent["isDraft"] is False and sent["parentFolderId"] == sent_folder["id"]


def test_inline_attachment_limits_and_value(graph: httpx.Client) -> None:
    message = graph.post(user("/messages"), json={"subject": "a"}).json()
    base = f"/messages/{message['id']}/attachments"
    added = graph.post(user(base), json={"@odata.type": FILE, "name": "n.bin", "contentType": "application/pdf",
                                         "contentBytes": base64.b64encode(b"\x00\x01\x02").decode()})
    assert added.status_code == 201 and added.json()["size"] == 3
    value = graph.get(user(f"{base}/{added.json()['id']}/$value"))
    assert value.content == b"\x00\x01\x02"
    big = base64.b64encode(b"x" * (3 * 1024 * 1024 + 1)).decode()
    too_big = graph.post(user(base), json={"@odata.type": FILE, "name": "big", "contentBytes": big})
    assert too_big.status_code == 413
    untyped = graph.post(user(base), json={"name": "n", "contentBytes": "AA=="})
    assert untyped.status_code == 400
    assert graph.get(user(f"/messages/{message['id']}")).json()["hasAttachments"] is True
    assert graph.delete(user(f"{base}/{added.json()['id']}")).status_code == 204
    assert graph.get(user(base)).json()["value"] == []


def test_upload_session_in_chunks(graph: httpx.Client) -> None:
    payload = os.urandom(5 * 1024 * 1024 + 123)
    message = graph.post(user("/messages"), json={"subject": "big"}).json()
    small = graph.post(user(f"/messages/{message['id']}/attachments/createUploadSession"),
                       json={"AttachmentItem": {"attachmentType": "file", "name": "s", "size": 10}})
    assert small.status_code == 400
    session = graph.post(user(f"/messages/{message['id']}/attachments/createUploadSession"), json={
        "AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": len(payload),
                           "contentType": "application/octet-stream"}})
    assert session.status_code == 201
    url = session.json()["uploadUrl"]
    assert session.json()["nextExpectedRanges"] == ["0-"]
    chunk = 4 * 1024 * 1024
    wrong = httpx.put(url, content=payload[10:20], headers={"Content-Range": f"bytes 10-19/{len(payload)}"})
    assert wrong.status_code == 416
    first = httpx.put(url, content=payload[:chunk], headers={"Content-Range": f"bytes 0-{chunk - 1}/{len(payload)}"})
    assert first.status_code == 200 and first.json()["nextExpectedRanges"] == [f"{chunk}-"]
    last = httpx.put(url, content=payload[chunk:],
                     headers={"Content-Range": f"bytes {chunk}-{len(payload) - 1}/{len(payload)}"})
    assert last.status_code == 201 and "attachments" in last.headers["Location"]
    listed = graph.get(user(f"/messages/{message['id']}/attachments")).json()["value"]
    assert [(a["name"], a["size"]) for a in listed] == [("big.bin", len(payload))]
    value = graph.get(user(f"/messages/{message['id']}/attachments/{listed[0]['id']}/$value"))
    assert value.content == payload
    assert httpx.put(url, content=b"x", headers={"Content-Range": "bytes 0-0/1"}).status_code == 404


def test_upload_budget_gives_429(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/throttling", json={"upload_bytes": 4 * 1024 * 1024}).raise_for_status()
    payload = os.urandom(3 * 1024 * 1024 + 10)
    message = graph.post(user("/messages"), json={"subject": "budget"}).json()
    session = graph.post(user(f"/messages/{message['id']}/attachments/createUploadSession"), json={
        "AttachmentItem": {"attachmentType": "file", "name": "b.bin", "size": len(payload)}}).json()
    total = f"/{len(payload)}"
    first = httpx.put(session["uploadUrl"], content=payload[:2_000_000], headers={
        "Content-Range": f"bytes 0-{2_000_000 - 1}{total}"})
    assert first.status_code == 200
    inline = graph.post(user(f"/messages/{message['id']}/attachments"), json={
        "@odata.type": FILE, "name": "i.bin", "contentBytes": base64.b64encode(b"y" * 2_000_000).decode()})
    assert inline.status_code == 201
    over = httpx.put(session["uploadUrl"], content=payload[2_000_000:], headers={
        "Content-Range": f"bytes 2000000-{len(payload) - 1}{total}"})
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert admin.get("/counters").json()[A]["throttled"] == 1
