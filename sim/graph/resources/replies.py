"""Internet message headers, threaded replies and MIME: what system mailboxes need from Graph.

- ``internetMessageHeaders`` are stored per message and rendered only when ``$select``ed (see
  :mod:`sim.graph.render`). JSON create/send/PATCH accepts only header names starting with
  ``x-``/``X-``; any other name answers 400 ``InvalidInternetMessageHeader`` like Graph.
- ``createReply`` / ``createReplyAll`` make a draft in Drafts (``RE:`` subject, the sender — or
  everyone for ReplyAll — as recipients, the original's conversationId); ``reply`` / ``replyAll``
  send at once. A sent reply carries ``In-Reply-To`` (the original's internetMessageId) and
  ``References`` (the original's References plus its id), as Exchange sets them.
- MIME: ``sendMail`` and ``POST /messages`` with ``Content-Type: text/plain`` take a base64 RFC 5322
  message; every header is kept (``Auto-Submitted`` included). A MIME message whose In-Reply-To or
  References names a message of the mailbox joins that message's conversation.
- ``POST /_sim/deliver`` {"to", "from", "subject", "body", "headers": {name: value}, "internetMessageId",
  "conversationId", "mime"}: an incoming message from outside the tenant lands in the Inbox (the
  way tests play a customer); answers the new message's ids.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
from typing import TYPE_CHECKING, Any

from sim.graph import ids, items, schema
from sim.graph.call import Call, Reply
from sim.graph.errors import GraphError
from sim.graph.router import Router
from sim.graph.store import Item, Mailbox

if TYPE_CHECKING:
    from sim.graph.app import Sim

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


def _recipient(address: str, name: str | None = None) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


def _address(recipient: Any) -> str:
    return str(((recipient or {}).get("emailAddress") or {}).get("address") or "").lower()


def _by_message_id(mailbox: Mailbox, message_ids: list[str]) -> Item | None:
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
        return [_recipient(addr, display or None) for display, addr in pairs if addr]

    sender = people("From")
    refs = [*str(message.get("In-Reply-To") or "").split(), *str(message.get("References") or "").split()]
    parent = _by_message_id(mailbox, refs)
    return {"subject": str(message.get("Subject") or ""), "body": _mime_body(message),
            "toRecipients": people("To"), "ccRecipients": people("Cc"), "bccRecipients": people("Bcc"),
            "from": sender[0] if sender else None, "sender": sender[0] if sender else None,
            "internetMessageId": str(message.get("Message-ID") or "") or ids.internet_message_id(
                mailbox.upn.split("@")[-1]),
            "conversationId": parent.data.get("conversationId") if parent else ids.conversation_id(),
            HEADERS: [{"name": k, "value": str(v)} for k, v in message.items()]}


def is_mime(call: Call) -> bool:
    return isinstance(call.body, str) and call.headers.get("Content-Type", "").lower().startswith("text/plain")


# ---------------------------------------------------------------- replies


def _reply_fields(sim: Sim, mailbox: Mailbox, original: Item, everyone: bool, comment: str) -> dict[str, Any]:
    subject = str(original.data.get("subject") or "")
    sender = original.data.get("replyTo") or [original.data.get("from")]
    to = [r for r in sender if r]
    cc: list[dict[str, Any]] = []
    if everyone:
        me = mailbox.upn.lower()
        seen = {_address(r) for r in to} | {me}
        for r in [*(original.data.get("toRecipients") or []), *(original.data.get("ccRecipients") or [])]:
            if _address(r) not in seen:
                cc.append(r)
                seen.add(_address(r))
    quoted = str((original.data.get("body") or {}).get("content") or "")
    return {"subject": subject if subject.lower().startswith("re:") else f"RE: {subject}",
            "toRecipients": to, "ccRecipients": cc,
            "body": {"contentType": "text", "content": f"{comment}\n\n-----Original Message-----\n{quoted}"},
            "conversationId": original.data.get("conversationId"), REPLY_OF: original.iid}


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


def _reply_args(call: Call, action: str) -> tuple[str, dict[str, Any]]:
    body = schema.action_params(call.json_object(), ["comment", "message"], action)
    message = body.get("message") or {}
    if not isinstance(message, dict):
        raise GraphError(400, "ErrorInvalidRequest", "message must be an object.")
    if message:
        schema.validate(message, "message")
        check_json_headers(message)
    return str(body.get("comment") or ""), message


async def create_reply(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None,
                       *, everyone: bool = False) -> Reply:
    from sim.graph.resources.mail import message_defaults

    mailbox = sim.tenant.mailbox(user)
    original = items.lookup(mailbox, "message", ident)
    comment, extra = _reply_args(call, "createReplyAll" if everyone else "createReply")
    fields = {**message_defaults(mailbox), **_reply_fields(sim, mailbox, original, everyone, comment)}
    draft = items.create(call, sim, mailbox, "message", mailbox.wellknown["drafts"], fields, extra)
    return items.item_reply(call, mailbox, draft, "messages", 201)


async def create_reply_all(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None) -> Reply:
    return await create_reply(call, sim, user, ident, folder, everyone=True)


async def reply(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None,
                *, everyone: bool = False) -> Reply:
    from sim.graph.resources.mail import send_item

    mailbox = sim.tenant.mailbox(user)
    original = items.lookup(mailbox, "message", ident)
    comment, extra = _reply_args(call, "replyAll" if everyone else "reply")
    fields = _reply_fields(sim, mailbox, original, everyone, comment)
    send_item(call, sim, mailbox, {**fields, **extra})
    return Reply(202)


async def reply_all(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None) -> Reply:
    return await reply(call, sim, user, ident, folder, everyone=True)


# ---------------------------------------------------------------- delivery from outside (admin)


def deliver(sim: Sim, spec: dict[str, Any]) -> Item:
    """An incoming message from outside the tenant, into the Inbox of ``spec["to"]``."""
    target = sim.tenant.find_user(str(spec.get("to") or ""))
    if target is None:
        raise ValueError("to: not a mailbox of the simulated tenant")
    if spec.get("mime"):
        raw = base64.b64decode(str(spec["mime"]))
        fields = mime_fields(target, email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
    else:
        sender = str(spec.get("from") or "")
        if "@" not in sender:
            raise ValueError("from: a sender address is required")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("headers: expected an object of header name -> value")
        message_id = str(spec.get("internetMessageId") or ids.internet_message_id(sender.split("@")[-1]))
        refs = [*str(headers.get("In-Reply-To") or "").split(), *str(headers.get("References") or "").split()]
        parent = _by_message_id(target, refs)
        all_headers = {"Message-ID": message_id, "From": sender, "To": target.upn,
                       "Subject": str(spec.get("subject") or ""), **{str(k): str(v) for k, v in headers.items()}}
        fields = {"subject": str(spec.get("subject") or ""),
                  "body": {"contentType": "text", "content": str(spec.get("body") or "")},
                  "from": _recipient(sender, spec.get("fromName")), "sender": _recipient(sender, spec.get("fromName")),
                  "toRecipients": [_recipient(target.upn)], "internetMessageId": message_id,
                  "conversationId": spec.get("conversationId") or (
                      parent.data.get("conversationId") if parent else ids.conversation_id()),
                  HEADERS: [{"name": k, "value": v} for k, v in all_headers.items()]}
    moment = ids.stamp()
    data = {"isDraft": False, "isRead": False, "importance": "normal", "inferenceClassification": "focused",
            "sentDateTime": moment, "receivedDateTime": moment, "flag": {"flagStatus": "notFlagged"},
            "ccRecipients": [], "bccRecipients": [], "replyTo": [], "categories": [],
            "isDeliveryReceiptRequested": False, "isReadReceiptRequested": False, **fields}
    item = target.add("message", target.wellknown["inbox"], data)
    sim.changed(target, item, "created")
    return item


def register(router: Router) -> None:
    for prefix in ("users/{user}/messages/{ident}", "users/{user}/mailFolders/{folder}/messages/{ident}"):
        router.add("POST", f"{prefix}/createReply", create_reply)
        router.add("POST", f"{prefix}/createReplyAll", create_reply_all)
        router.add("POST", f"{prefix}/reply", reply)
        router.add("POST", f"{prefix}/replyAll", reply_all)
