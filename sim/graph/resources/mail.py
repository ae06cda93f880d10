"""Mail folders and messages: well-known folders, per-folder delta, move, send, ``sendMail``.

Headers and MIME (``Content-Type: text/plain`` bodies) are in :mod:`.mime`, replies in :mod:`.replies`.

A message POSTed to a folder is a draft unless ``PR_MESSAGE_FLAGS`` (``Integer 0x0E07``) is set
inline: bit 8 (unsent) decides ``isDraft``, bit 1 ``isRead`` — so ``"1"`` files a read, sent item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.graph import ids, items, schema
from sim.graph.call import Call, Reply, no_content
from sim.graph.delta import delta_reply
from sim.graph.errors import GraphError
from sim.graph.resources import mime
from sim.graph.router import Router
from sim.graph.sending import recipient_count
from sim.graph.store import Item, Mailbox
from sim.graph.tenant import container_of

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

MESSAGE_FLAGS = "Integer 0x0E07"
DELIVERY_TIME = "SystemTime 0x0E06"     # PR_MESSAGE_DELIVERY_TIME -> receivedDateTime
SUBMIT_TIME = "SystemTime 0x0039"       # PR_CLIENT_SUBMIT_TIME -> sentDateTime
SENT_READ_ONLY = ("bccRecipients", "body", "ccRecipients", "from", "internetMessageId", "replyTo", "sender",
                  "subject", "toRecipients")


def _folder(mailbox: Mailbox, folder: str | None) -> str:
    return container_of(mailbox, "mailFolder", folder or "drafts").iid


def message_defaults(mailbox: Mailbox) -> dict[str, Any]:
    moment = ids.stamp()
    return {"isDraft": True, "isRead": True, "importance": "normal", "inferenceClassification": "focused",
            "internetMessageId": ids.internet_message_id(mailbox.upn.split("@")[-1]),
            "conversationId": ids.conversation_id(), "receivedDateTime": moment, "sentDateTime": None,
            "isDeliveryReceiptRequested": False, "isReadReceiptRequested": False,
            "flag": {"flagStatus": "notFlagged"}, "body": {"contentType": "text", "content": ""},
            "toRecipients": [], "ccRecipients": [], "bccRecipients": [], "replyTo": [],
            "subject": None, "categories": []}


def _me(mailbox: Mailbox) -> dict[str, Any]:
    return {"emailAddress": {"name": mailbox.user["displayName"], "address": mailbox.upn}}


def apply_flags(item: Item, mailbox: Mailbox) -> None:
    """Derive isDraft/isRead from an inline PR_MESSAGE_FLAGS."""
    for prop, field in ((DELIVERY_TIME, "receivedDateTime"), (SUBMIT_TIME, "sentDateTime")):
        moment = items.ext_value(item, prop)
        if moment is not None:
            try:
                item.data[field] = ids.stamp(ids.parse_stamp(moment))
            except ValueError as exc:
                raise GraphError(400, "ErrorInvalidExtendedPropertyValue",
                                 f"'{moment}' is not a valid value for the extended property '{prop}'.") from exc
    raw = items.ext_value(item, MESSAGE_FLAGS)
    if raw is None:
        return
    try:
        flags = int(raw, 0)
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidExtendedPropertyValue",
                         f"'{raw}' is not a valid value for the extended property '{MESSAGE_FLAGS}'.") from exc
    item.data["isDraft"] = bool(flags & 8)
    item.data["isRead"] = bool(flags & 1)
    if not item.data["isDraft"]:
        item.data["sentDateTime"] = item.data.get("sentDateTime") or item.data["receivedDateTime"]
        item.data.setdefault("from", None)
        if item.data["from"] is None:
            item.data["from"] = _me(mailbox)
        item.data["sender"] = item.data.get("sender") or item.data["from"]


def new_message(call: Call, sim: Sim, mailbox: Mailbox, folder: str, body: dict[str, Any] | None = None
                ) -> Item:
    item = items.create(call, sim, mailbox, "message", folder, message_defaults(mailbox), body)
    apply_flags(item, mailbox)
    return item


async def list_messages(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    if folder is None:
        found = sorted(mailbox.of_kind("message"), key=lambda i: i.seq)
    else:
        found = mailbox.in_container("message", _folder(mailbox, folder))
    found.sort(key=lambda i: str(i.data.get("receivedDateTime") or ""), reverse=True)
    return items.list_reply(call, mailbox, found, "messages")


async def create_message(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    if mime.is_mime(call):
        fields = mime.mime_fields(mailbox, mime.parse_mime(call))
        item = items.create(call, sim, mailbox, "message", _folder(mailbox, folder),
                            {**message_defaults(mailbox), **fields}, {})
        return items.item_reply(call, mailbox, item, "messages", 201)
    mime.check_json_headers(call.json_object())
    item = new_message(call, sim, mailbox, _folder(mailbox, folder))
    return items.item_reply(call, mailbox, item, "messages", 201)


async def messages_delta(call: Call, sim: Sim, user: str, folder: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    return delta_reply(call, sim, mailbox, "message", _folder(mailbox, folder), "message")


def _message(mailbox: Mailbox, ident: str, folder: str | None) -> Item:
    container = _folder(mailbox, folder) if folder else None
    return items.lookup(mailbox, "message", ident, container)


async def message(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = _message(mailbox, ident, folder)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "messages")
    if call.method == "PATCH":
        body = call.json_object()
        mime.check_json_headers(body)
        if not item.data.get("isDraft"):
            for key in body:
                if key in SENT_READ_ONLY:
                    raise GraphError(400, "ErrorInvalidPropertyUpdateSentMessage",
                                     f"Update operation is not allowed for property '{key}' on a sent message.")
        items.update(call, sim, mailbox, item, body)
        return items.item_reply(call, mailbox, item, "messages")
    items.remove(call, sim, mailbox, item)
    return no_content()


async def move(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = _message(mailbox, ident, folder)
    body = schema.action_params(call.json_object(), ["destinationId"], "move")
    destination = body.get("destinationId")
    if not isinstance(destination, str):
        raise GraphError(400, "ErrorInvalidIdMalformed", "destinationId is required.")
    target = container_of(mailbox, "mailFolder", destination)
    source = item.container
    mailbox.move(item, target.iid)
    sim.changed(mailbox, item, "deleted", container=source)
    sim.changed(mailbox, item, "created")
    return items.item_reply(call, mailbox, item, "messages", 201)


def _sent_fields(mailbox: Mailbox) -> dict[str, Any]:
    moment = ids.stamp()
    return {"isDraft": False, "isRead": True, "sentDateTime": moment, "receivedDateTime": moment,
            "from": _me(mailbox), "sender": _me(mailbox)}


def _deliver(call: Call, sim: Sim, sent: Item) -> None:
    """Copies for recipients that are mailboxes of this tenant, into their Inbox."""
    recipients = [*(sent.data.get("toRecipients") or []), *(sent.data.get("ccRecipients") or []),
                  *(sent.data.get("bccRecipients") or [])]
    for recipient in recipients:
        address = ((recipient or {}).get("emailAddress") or {}).get("address") or ""
        target = sim.tenant.find_user(address)
        if target is None:
            continue
        data = {k: v for k, v in sent.data.items() if k not in {"bccRecipients"}}
        copy = target.add("message", target.wellknown["inbox"], {**data, "isRead": False, "categories": []})
        sim.changed(target, copy, "created")


def send_item(call: Call, sim: Sim, mailbox: Mailbox, fields: dict[str, Any], save: bool = True) -> Item:
    """A message sent now: into Sent Items (threaded when it answers one), copies to tenant recipients."""
    if not any(fields.get(k) for k in ("toRecipients", "ccRecipients", "bccRecipients")):
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., "
                         "A message can't be sent because it contains no recipients.")
    sim.sending.charge(mailbox.upn, recipient_count(fields))
    item = items.create(call, sim, mailbox, "message", mailbox.wellknown["sentitems"],
                        {**message_defaults(mailbox), **fields, **_sent_fields(mailbox)}, {})
    mime.thread_headers(mailbox, item)
    _deliver(call, sim, item)
    if not save:
        items.remove(call, sim, mailbox, item)
    return item


async def send_mail(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    if mime.is_mime(call):
        send_item(call, sim, mailbox, mime.mime_fields(mailbox, mime.parse_mime(call)))
        return Reply(202)
    body = schema.action_params(call.json_object(), ["message", "saveToSentItems"], "sendMail")
    message_body = body.get("message")
    if not isinstance(message_body, dict):
        raise GraphError(400, "ErrorInvalidRequest", "The 'message' parameter is required for sendMail.")
    schema.validate(message_body, "message")
    mime.check_json_headers(message_body)
    if not any(message_body.get(k) for k in ("toRecipients", "ccRecipients", "bccRecipients")):
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., "
                         "A message can't be sent because it contains no recipients.")
    sim.sending.charge(mailbox.upn, recipient_count(message_body))
    sent_items = mailbox.wellknown["sentitems"]
    item = items.create(call, sim, mailbox, "message", sent_items,
                        {**message_defaults(mailbox), **_sent_fields(mailbox)}, message_body)
    item.data.update(_sent_fields(mailbox))
    _deliver(call, sim, item)
    if body.get("saveToSentItems") is False:
        items.remove(call, sim, mailbox, item)
    return Reply(202)


async def send_draft(call: Call, sim: Sim, user: str, ident: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = _message(mailbox, ident, folder)
    if not item.data.get("isDraft"):
        raise GraphError(400, "ErrorInvalidOperation", "Only draft messages can be sent.")
    if not any(item.data.get(k) for k in ("toRecipients", "ccRecipients", "bccRecipients")):
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., "
                         "A message can't be sent because it contains no recipients.")
    sim.sending.charge(mailbox.upn, recipient_count(item.data))
    source = item.container
    item.data.update(_sent_fields(mailbox))
    mime.thread_headers(mailbox, item)
    mailbox.move(item, mailbox.wellknown["sentitems"])
    sim.changed(mailbox, item, "deleted", container=source)
    sim.changed(mailbox, item, "created")
    _deliver(call, sim, item)
    return Reply(202)


# ---------------------------------------------------------------- folders

async def list_folders(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = container_of(mailbox, "mailFolder", folder or "msgfolderroot").iid
    return items.list_reply(call, mailbox, mailbox.in_container("mailFolder", parent), "mailFolders")


async def create_folder(call: Call, sim: Sim, user: str, folder: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = container_of(mailbox, "mailFolder", folder or "msgfolderroot").iid
    name = call.json_object().get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidRequest", "displayName is required to create a mail folder.")
    if any(f.data.get("displayName", "").lower() == name.lower()
           for f in mailbox.in_container("mailFolder", parent)):
        raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
    item = items.create(call, sim, mailbox, "mailFolder", parent, {"isHidden": False})
    return items.item_reply(call, mailbox, item, "mailFolders", 201)


async def folder_item(call: Call, sim: Sim, user: str, folder: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = container_of(mailbox, "mailFolder", folder)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "mailFolders")
    if item.iid in mailbox.wellknown.values():
        raise GraphError(403, "ErrorAccessDenied", "A well-known folder cannot be changed or deleted.")
    if call.method == "PATCH":
        items.update(call, sim, mailbox, item)
        return items.item_reply(call, mailbox, item, "mailFolders")
    items.remove(call, sim, mailbox, item)
    return no_content()


def register(router: Router) -> None:
    base = "users/{user}"
    router.add("POST", f"{base}/sendMail", send_mail)
    router.add("GET", f"{base}/mailFolders", list_folders)
    router.add("POST", f"{base}/mailFolders", create_folder)
    router.add("GET,PATCH,DELETE", f"{base}/mailFolders/{{folder}}", folder_item)
    router.add("GET", f"{base}/mailFolders/{{folder}}/childFolders", list_folders)
    router.add("POST", f"{base}/mailFolders/{{folder}}/childFolders", create_folder)
    router.add("GET", f"{base}/mailFolders/{{folder}}/messages/delta", messages_delta)
    router.add("GET", f"{base}/messages", list_messages)
    router.add("POST", f"{base}/messages", create_message)
    router.add("GET", f"{base}/mailFolders/{{folder}}/messages", list_messages)
    router.add("POST", f"{base}/mailFolders/{{folder}}/messages", create_message)
    for prefix in (f"{base}/messages/{{ident}}", f"{base}/mailFolders/{{folder}}/messages/{{ident}}"):
        router.add("GET,PATCH,DELETE", prefix, message)
        router.add("POST", f"{prefix}/move", move)
        router.add("POST", f"{prefix}/send", send_draft)
