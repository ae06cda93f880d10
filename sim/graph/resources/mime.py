"""Internet message headers and MIME for the Graph simulator's messages.

``internetMessageHeaders`` are stored per message (rendered only when ``$select``ed, see
:mod:`sim.graph.render`). JSON create/send/PATCH accepts only ``x-``/``X-`` header names (400
``InvalidInternetMessageHeader`` otherwise, like Graph). A ``text/plain`` body is base64 MIME: every
header is kept, and a message whose In-Reply-To or References names a message of the mailbox joins
its conversation. A sent reply gets ``In-Reply-To`` / ``References`` of the message it answers.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
from typing import Any

from sim.graph import ids
from sim.graph.call import Call
from sim.graph.errors import GraphError
from sim.graph.store import Item, Mailbox

HEADERS = "internetMessageHeaders"
REPLY_OF = "@replyOf"   # hidden: the iid of the message a draft answers (set by createReply)


def check_json_headers(body: dict[str, Any]) -> None:
    """400 like Graph when JSON names a header that is not an ``x-`` header."""
    for header in body.get(HEADERS) or []:
        name = str((header or {}).get("name") or "")
        if not name.lower().startswith("x-"):
            raise GraphError(400, "InvalidInternetMessageHeader",
                             f"The internet message header name '{name}' should start with 'x-' or 'X-'.")


def header(item: Item, name: str) -> str | None:
    for entry in item.data.get(HEADERS) or []:
        if str(entry.get("name", "")).lower() == name.lower():
            return str(entry.get("value", ""))
    return None


def recipient(address: str, name: str | None = None) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


def address_of(recipient: Any) -> str:
    return str(((recipient or {}).get("emailAddress") or {}).get("address") or "").lower()


def by_message_id(mailbox: Mailbox, message_ids: list[str]) -> Item | None:
    wanted = {m.strip().lower() for m in message_ids if m.strip()}
    for item in mailbox.of_kind("message"):
        if str(item.data.get("internetMessageId") or "").lower() in wanted:
            return item
    return None


# ---------------------------------------------------------------- MIME


def parse_mime(call: Call) -> email.message.EmailMessage:
    raw = call.body if isinstance(call.body, str) else ""
    try:
        data = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GraphError(400, "ErrorMimeContentInvalidBase64String",
                         "Invalid base64 string for MIME content.") from exc
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, email.message.EmailMessage) or not message.keys():
        raise GraphError(400, "ErrorMimeContentInvalid", "The MIME content is invalid.")
    return message  # type: ignore[return-value]


def _mime_body(message: email.message.EmailMessage) -> dict[str, str]:
    part = message.get_body(preferencelist=("html", "plain"))
    if part is None:
        return {"contentType": "text", "content": ""}
    kind = "html" if part.get_content_subtype() == "html" else "text"
    return {"contentType": kind, "content": str(part.get_content())}


def mime_fields(mailbox: Mailbox, message: email.message.EmailMessage) -> dict[str, Any]:
    """A message's Graph properties from MIME (headers kept as internetMessageHeaders)."""
    def people(name: str) -> list[dict[str, Any]]:
        pairs = email.utils.getaddresses(message.get_all(name, []))
        return [recipient(addr, display or None) for display, addr in pairs if addr]

    sender = people("From")
    refs = [*str(message.get("In-Reply-To") or "").split(), *str(message.get("References") or "").split()]
    parent = by_message_id(mailbox, refs)
    return {"subject": str(message.get("Subject") or ""), "body": _mime_body(message),
            "toRecipients": people("To"), "ccRecipients": people("Cc"), "bccRecipients": people("Bcc"),
            "from": sender[0] if sender else None, "sender": sender[0] if sender else None,
            "internetMessageId": str(message.get("Message-ID") or "") or ids.internet_message_id(
                mailbox.upn.split("@")[-1]),
            "conversationId": parent.data.get("conversationId") if parent else ids.conversation_id(),
            HEADERS: [{"name": k, "value": str(v)} for k, v in message.items()]}


def is_mime(call: Call) -> bool:
    return isinstance(call.body, str) and call.headers.get("Content-Type", "").lower().startswith("text/plain")


def thread_headers(mailbox: Mailbox, item: Item) -> None:
    """On send: In-Reply-To / References of the message a draft answers (as Exchange adds them)."""
    original = mailbox.get(str(item.data.pop(REPLY_OF, "") or ""), "message")
    if original is None:
        return
    parent_id = str(original.data.get("internetMessageId") or "")
    references = " ".join(filter(None, [header(original, "References") or "", parent_id]))
    kept = [h for h in item.data.get(HEADERS) or [] if h.get("name", "").lower() not in
            ("in-reply-to", "references")]
    item.data[HEADERS] = [*kept, {"name": "In-Reply-To", "value": parent_id},
                          {"name": "References", "value": references}]
