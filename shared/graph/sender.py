"""``MailSender`` on Microsoft Graph: transactional mail from a system mailbox, stamped and findable.

Every message goes out as a draft that is then sent, so one path carries the stamp, the headers and
attachments of any size:

1. the draft: ``createReply`` on the received message (Exchange writes In-Reply-To / References and
   keeps the conversation), a MIME draft (``POST /messages`` with base64 RFC 5322 text: every
   header is ours — ``Auto-Submitted``, ``In-Reply-To``, ``References``, and ``X-Exsync-Erp-Id``
   with the stamp) or a JSON draft (only ``X-`` headers are allowed there);
2. the stamp: the ERP id as exsync's named extended property (set on create, or PATCHed onto a MIME
   draft), which is how :meth:`GraphMailSender.find_sent` finds the message in Sent Items;
3. attachments: inline up to 3 MB, an upload session above (:mod:`shared.graph.attachments`);
4. ``POST /messages/{id}/send``: 202, accepted — the message is in Sent Items moments later.
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import json
import logging
from email.message import EmailMessage
from typing import Any

from kiota_abstractions.method import Method

from shared.graph import mapping
from shared.graph.attachments import Attachments
from shared.graph.client import GraphHttp
from shared.graph.wire import seg
from shared.ports import OutboundMessage

logger = logging.getLogger(__name__)

STAMP_HEADER = "X-Exsync-Erp-Id"
MAX_ATTACHMENT_BYTES = 150 * 1024 * 1024


def _people(addresses: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": a}} for a in addresses]


def _is_html(body: str) -> bool:
    return body.lstrip().startswith("<")


def _stamp(stamp: str) -> list[dict[str, str]]:
    return [{"id": mapping.STAMP_PROPERTY_ID, "value": stamp}]


def mime_bytes(mailbox: str, message: OutboundMessage) -> bytes:
    """The RFC 5322 form of ``message`` sent as ``mailbox``, with the stamp header and a Message-ID
    derived from the stamp."""
    mime = EmailMessage(policy=email.policy.SMTP)
    mime["From"] = mailbox
    for name, addresses in (("To", message.to), ("Cc", message.cc), ("Bcc", message.bcc)):
        if addresses:
            mime[name] = ", ".join(addresses)
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.formatdate(usegmt=True)
    mime["Message-ID"] = f"<{message.stamp}.exsync@{mailbox.split('@')[-1]}>"
    mime[STAMP_HEADER] = message.stamp
    for name, value in message.headers:
        mime[name] = value
    mime.set_content(message.body, subtype="html" if _is_html(message.body) else "plain")
    return mime.as_bytes()


class GraphMailSender:
    """The sending port on a :class:`GraphHttp` (auth, retry with Retry-After, per-mailbox pacing)."""

    def __init__(self, http: GraphHttp) -> None:
        self.http = http
        self.attachments = Attachments(http, MAX_ATTACHMENT_BYTES)

    async def _json(self, method: Method, path: str, mailbox: str, *, query: dict[str, str] | None = None,
                    body: Any = None, raw: bytes | None = None, content_type: str = "application/json") -> Any:
        info = self.http.request(method, path, mailbox, query=query)
        payload = raw if raw is not None else json.dumps(body).encode() if body is not None else None
        if payload is not None:
            info.set_stream_content(payload, content_type)
        data = await self.http.send_bytes(info)
        return json.loads(data) if data else None

    def _user(self, mailbox: str) -> str:
        return f"/users/{seg(mailbox)}"

    def _fields(self, message: OutboundMessage) -> dict[str, Any]:
        return {"subject": message.subject, "toRecipients": _people(message.to), "ccRecipients": _people(message.cc),
                "bccRecipients": _people(message.bcc),
                "body": {"contentType": "html" if _is_html(message.body) else "text", "content": message.body},
                "singleValueExtendedProperties": _stamp(message.stamp)}

    async def _draft(self, mailbox: str, message: OutboundMessage) -> str:
        user = self._user(mailbox)
        x_headers = [{"name": k, "value": v} for k, v in message.headers if k.lower().startswith("x-")]
        if message.reply_to:
            body: dict[str, Any] = {"message": {**self._fields(message), **(
                {"internetMessageHeaders": x_headers} if x_headers else {})}}
            draft = await self._json(Method.POST, f"{user}/messages/{seg(message.reply_to)}/createReply", mailbox,
                                     body=body)
            return str(draft["id"])
        if message.mime:
            raw = base64.b64encode(mime_bytes(mailbox, message))
            draft = await self._json(Method.POST, f"{user}/messages", mailbox, raw=raw, content_type="text/plain")
            await self._json(Method.PATCH, f"{user}/messages/{seg(str(draft['id']))}", mailbox,
                             body={"singleValueExtendedProperties": _stamp(message.stamp)})
            return str(draft["id"])
        fields = self._fields(message)
        if x_headers:
            fields["internetMessageHeaders"] = x_headers
        draft = await self._json(Method.POST, f"{user}/messages", mailbox, body=fields)
        return str(draft["id"])

    async def send(self, mailbox: str, message: OutboundMessage) -> None:
        draft = await self._draft(mailbox, message)
        if message.files:
            await self.attachments.attach_all(mailbox, draft, message.files)
        await self._json(Method.POST, f"{self._user(mailbox)}/messages/{seg(draft)}/send", mailbox)
        logger.debug("sent %s from %s", message.stamp, mailbox)

    async def _stamped(self, mailbox: str, folder: str, stamp: str) -> list[str]:
        query = {"$filter": mapping.stamp_filter(stamp), "$select": "id", "$top": "10"}
        page = await self._json(Method.GET, f"{self._user(mailbox)}/mailFolders/{folder}/messages", mailbox,
                                query=query)
        return [str(row["id"]) for row in (page or {}).get("value") or []]

    async def find_sent(self, mailbox: str, stamp: str) -> str | None:
        found = await self._stamped(mailbox, "sentitems", stamp)
        return found[0] if found else None

    async def discard_drafts(self, mailbox: str, stamp: str) -> int:
        found = await self._stamped(mailbox, "drafts", stamp)
        for draft in found:
            await self._json(Method.DELETE, f"{self._user(mailbox)}/messages/{seg(draft)}", mailbox)
        return len(found)

    async def find_received(self, mailbox: str, internet_message_id: str) -> str | None:
        wanted = internet_message_id.strip().replace("'", "''")
        if not wanted:
            return None
        query = {"$filter": f"internetMessageId eq '{wanted}'", "$select": "id,isDraft", "$top": "5"}
        page = await self._json(Method.GET, f"{self._user(mailbox)}/messages", mailbox, query=query)
        rows = [row for row in (page or {}).get("value") or [] if not row.get("isDraft")]
        return str(rows[0]["id"]) if rows else None
