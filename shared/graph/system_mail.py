"""``SystemMailGateway`` on Microsoft Graph: a system mailbox's Inbox, its headers, and MIME sending.

Requests go through the same msgraph-sdk request adapter as the sync gateway (:class:`GraphHttp`:
auth, retry with Retry-After, per-mailbox pacing, ``Prefer: IdType="ImmutableId"``). The Inbox
delta only says *which* messages are new; each message is then read with
``internetMessageHeaders`` selected (Graph returns headers only when selected) and the exsync stamp
expanded. Automatic replies are sent as MIME (``sendMail`` with a base64 text/plain body): the JSON
API cannot set ``In-Reply-To``, ``References`` or ``Auto-Submitted``.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from kiota_abstractions.method import Method

from shared.errors import ExsyncError, NotFound
from shared.graph import mapping
from shared.graph.attachments import Attachments
from shared.graph.client import GraphHttp
from shared.graph.wire import seg
from shared.ports import AttachmentContent, InboxMessage, Page

logger = logging.getLogger(__name__)

FIELDS = ("id,internetMessageId,conversationId,subject,from,toRecipients,ccRecipients,body,receivedDateTime,"
          "hasAttachments,internetMessageHeaders")
_STAMP = {"$expand": mapping.STAMP_EXPAND}


def _address(recipient: Any) -> tuple[str, str]:
    email = (recipient or {}).get("emailAddress") or {}
    return str(email.get("address") or "").lower(), str(email.get("name") or "")


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def parse_message(row: dict[str, Any]) -> InboxMessage:
    """A Graph message row (with headers selected) as an :class:`InboxMessage`."""
    sender, name = _address(row.get("from"))
    stamp = None
    for prop in row.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == mapping.STAMP_PROPERTY_ID.lower() and prop.get("value"):
            stamp = str(prop["value"])
    headers: dict[str, str] = {}
    for header in row.get("internetMessageHeaders") or []:
        key = str(header.get("name", "")).lower()
        headers[key] = f"{headers[key]} {header.get('value', '')}" if key in headers else str(header.get("value", ""))
    return InboxMessage(
        id=str(row["id"]), internet_message_id=str(row.get("internetMessageId") or ""),
        conversation_id=str(row.get("conversationId") or ""), subject=str(row.get("subject") or ""),
        sender=sender, sender_name=name, to=tuple(_address(r)[0] for r in row.get("toRecipients") or []),
        cc=tuple(_address(r)[0] for r in row.get("ccRecipients") or []),
        body=str((row.get("body") or {}).get("content") or ""), received_at=_when(row.get("receivedDateTime")),
        headers=headers, stamp=stamp, has_attachments=bool(row.get("hasAttachments")))


class GraphSystemMail:
    """The system-mailbox port on a :class:`GraphHttp` (shared with the server's sync gateway)."""

    def __init__(self, http: GraphHttp) -> None:
        self.http = http
        self.attachments = Attachments(http, 150 * 1024 * 1024)

    async def _json(self, method: Method, path: str, mailbox: str, *, query: dict[str, str] | None = None,
                    body: Any = None) -> Any:
        raw = json.dumps(body).encode() if body is not None else None
        info = self.http.request(method, path, mailbox, query=query, raw_body=raw)
        data = await self.http.send_bytes(info)
        return json.loads(data) if data else None

    def _messages(self, mailbox: str) -> str:
        return f"/users/{seg(mailbox)}/mailFolders/inbox/messages"

    async def inbox_changes(self, mailbox: str, cursor: str | None, page_size: int) -> Page[InboxMessage]:
        url = cursor or self.http.url(f"{self._messages(mailbox)}/delta?$select=id,receivedDateTime")
        info = self.http.request(Method.GET, url, mailbox, prefer=(f"odata.maxpagesize={page_size}",))
        page = json.loads(await self.http.send_bytes(info) or b"{}")
        found: list[InboxMessage] = []
        for row in page.get("value") or []:
            if "@removed" in row:
                continue
            message = await self.get_message(mailbox, str(row["id"]))
            if message is not None:
                found.append(message)
        done = "@odata.deltaLink" in page
        return Page(tuple(found), page.get("@odata.deltaLink") if done else page.get("@odata.nextLink"), done)

    async def recent(self, mailbox: str, count: int) -> list[InboxMessage]:
        query = {"$top": str(count), "$orderby": "receivedDateTime desc", "$select": FIELDS, **_STAMP}
        page = await self._json(Method.GET, self._messages(mailbox), mailbox, query=query)
        return [parse_message(row) for row in (page or {}).get("value") or []]

    async def get_message(self, mailbox: str, message_id: str) -> InboxMessage | None:
        try:
            row = await self._json(Method.GET, f"/users/{seg(mailbox)}/messages/{seg(message_id)}", mailbox,
                                   query={"$select": FIELDS, **_STAMP})
        except NotFound:
            return None
        return parse_message(row) if row else None

    async def read_attachments(self, mailbox: str, message_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        return await self.attachments.read(mailbox, message_id, max_bytes)

    async def stamp(self, mailbox: str, message_id: str, value: str) -> None:
        body = {"singleValueExtendedProperties": [{"id": mapping.STAMP_PROPERTY_ID, "value": value}]}
        await self._json(Method.PATCH, f"/users/{seg(mailbox)}/messages/{seg(message_id)}", mailbox, body=body)

    async def send_mime(self, mailbox: str, mime: bytes) -> None:
        info = self.http.request(Method.POST, f"/users/{seg(mailbox)}/sendMail", mailbox)
        info.set_stream_content(base64.b64encode(mime), "text/plain")
        await self.http.send_bytes(info)

    async def after_processing(self, mailbox: str, message_id: str, action: str, folder: str | None) -> None:
        path = f"/users/{seg(mailbox)}/messages/{seg(message_id)}"
        if action == "mark_read":
            await self._json(Method.PATCH, path, mailbox, body={"isRead": True})
        elif action == "delete":
            await self._json(Method.DELETE, path, mailbox)
        elif action == "move" and folder:
            target = await self._folder(mailbox, folder)
            await self._json(Method.POST, f"{path}/move", mailbox, body={"destinationId": target})

    async def _folder(self, mailbox: str, name: str) -> str:
        query = {"$filter": f"displayName eq '{name.replace(chr(39), chr(39) * 2)}'"}
        page = await self._json(Method.GET, f"/users/{seg(mailbox)}/mailFolders", mailbox, query=query)
        rows = (page or {}).get("value") or []
        if rows:
            return str(rows[0]["id"])
        made = await self._json(Method.POST, f"/users/{seg(mailbox)}/mailFolders", mailbox,
                                body={"displayName": name})
        return str(made["id"])

    async def check(self, mailbox: str) -> list[dict[str, Any]]:
        findings: list[dict[str, Any]] = []

        async def step(check: str, fix: str, method: Method, path: str, body: Any = None) -> Any:
            try:
                result = await self._json(method, path, mailbox, body=body)
                findings.append({"check": check, "ok": True})
                return result
            except ExsyncError as exc:
                findings.append({"check": check, "ok": False, "message": str(exc), "fix": fix})
                return None

        user = f"/users/{seg(mailbox)}"
        await step("mailbox exists", "create the mailbox (a shared mailbox needs no licence)", Method.GET,
                   f"{user}?$select=id,mail")
        await step("inbox readable", "grant the app Mail.ReadWrite scoped to this mailbox (RBAC for Applications)",
                   Method.GET, f"{user}/mailFolders/inbox?$select=id")
        draft = await step("can write messages", "add the mailbox to the app's management scope",
                           Method.POST, f"{user}/messages",
                           {"subject": f"exsync test {uuid.uuid4().hex[:8]}", "isRead": True})
        if draft:
            await self._json(Method.DELETE, f"{user}/messages/{seg(str(draft['id']))}", mailbox)
        logger.info("system mailbox test: %d of %d checks passed", sum(f["ok"] for f in findings), len(findings))
        return findings


