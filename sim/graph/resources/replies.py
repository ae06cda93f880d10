"""Threaded replies and mail from outside the tenant, for system mailboxes.

- ``createReply`` / ``createReplyAll`` make a draft in Drafts (``RE:`` subject, the sender — or
  everyone for ReplyAll — as recipients, the original's conversationId); ``reply`` / ``replyAll``
  send at once. A sent reply carries ``In-Reply-To`` (the original's internetMessageId) and
  ``References`` (the original's References plus its id), as Exchange sets them
  (:func:`sim.graph.resources.mime.thread_headers`).
- ``POST /_sim/deliver`` {"to", "from", "fromName", "subject", "body", "headers": {name: value},
  "internetMessageId", "conversationId", "mime"}: an incoming message from outside the tenant lands
  in the Inbox (the way tests play a customer); answers the new message's ids.
"""

from __future__ import annotations

import base64
import email
import email.policy
from typing import TYPE_CHECKING, Any

from sim.graph import ids, items, schema
from sim.graph.call import Call, Reply
from sim.graph.errors import GraphError
from sim.graph.resources.mail import message_defaults, send_item
from sim.graph.resources.mime import (
    HEADERS,
    REPLY_OF,
    address_of,
    by_message_id,
    check_json_headers,
    mime_fields,
    recipient,
)
from sim.graph.router import Router
from sim.graph.store import Item, Mailbox

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim


# ---------------------------------------------------------------- replies


def _reply_fields(sim: Sim, mailbox: Mailbox, original: Item, everyone: bool, comment: str) -> dict[str, Any]:
    subject = str(original.data.get("subject") or "")
    sender = original.data.get("replyTo") or [original.data.get("from")]
    to = [r for r in sender if r]
    cc: list[dict[str, Any]] = []
    if everyone:
        me = mailbox.upn.lower()
        seen = {address_of(r) for r in to} | {me}
        for r in [*(original.data.get("toRecipients") or []), *(original.data.get("ccRecipients") or [])]:
            if address_of(r) not in seen:
                cc.append(r)
                seen.add(address_of(r))
    quoted = str((original.data.get("body") or {}).get("content") or "")
    return {"subject": subject if subject.lower().startswith("re:") else f"RE: {subject}",
            "toRecipients": to, "ccRecipients": cc,
            "body": {"contentType": "text", "content": f"{comment}\n\n-----Original Message-----\n{quoted}"},
            "conversationId": original.data.get("conversationId"), REPLY_OF: original.iid}


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
        parent = by_message_id(target, refs)
        all_headers = {"Message-ID": message_id, "From": sender, "To": target.upn,
                       "Subject": str(spec.get("subject") or ""), **{str(k): str(v) for k, v in headers.items()}}
        fields = {"subject": str(spec.get("subject") or ""),
                  "body": {"contentType": "text", "content": str(spec.get("body") or "")},
                  "from": recipient(sender, spec.get("fromName")), "sender": recipient(sender, spec.get("fromName")),
                  "toRecipients": [recipient(target.upn)], "internetMessageId": message_id,
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
