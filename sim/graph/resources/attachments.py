"""Attachments of messages and events: inline ``fileAttachment`` up to 3 MB, upload sessions above.

``createUploadSession`` answers an ``uploadUrl`` on this simulator (``/upload/{session}``, no
Authorization, like Outlook's pre-authenticated URL). Each PUT carries ``Content-Range`` and at
most 4 MB; intermediate chunks get 200 with ``nextExpectedRanges``, the last one 201 with a
``Location`` header, and the attachment appears on the item.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sim.graph import ids, items, schema
from sim.graph.call import Call, Reply, no_content, ok
from sim.graph.errors import GraphError, error_body
from sim.graph.router import Router
from sim.graph.store import Item, Mailbox

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

INLINE_LIMIT = 3 * 1024 * 1024
SESSION_MIN = 3 * 1024 * 1024
SESSION_MAX = 150 * 1024 * 1024
CHUNK_LIMIT = 4 * 1024 * 1024
FILE_TYPE = "#microsoft.graph.fileAttachment"
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def _parent(mailbox: Mailbox, kind: str, ident: str) -> Item:
    return items.lookup(mailbox, kind, ident)


def _decoded_size(body: dict[str, Any]) -> int:
    try:
        return len(base64.b64decode(str(body.get("contentBytes") or ""), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise GraphError(400, "RequestBodyRead", "contentBytes is not valid base64.") from exc


async def list_attachments(call: Call, sim: Sim, user: str, ident: str, kind: str = "message",
                           **_: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _parent(mailbox, kind, ident)
    return items.list_reply(call, mailbox, mailbox.in_container("attachment", parent.iid), "attachments")


async def add_attachment(call: Call, sim: Sim, user: str, ident: str, kind: str = "message", **_: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _parent(mailbox, kind, ident)
    body = call.json_object()
    if str(body.get("@odata.type", "")).lower() != FILE_TYPE.lower():
        raise GraphError(400, "ErrorInvalidRequest", "Only '#microsoft.graph.fileAttachment' attachments are "
                         "supported; set '@odata.type'.")
    size = _decoded_size(body)
    if size > INLINE_LIMIT:
        raise GraphError(413, "ErrorRequestEntityTooLarge",
                         f"The attachment is {size} bytes; attach files over 3 MB with an upload session.")
    retry_after = sim.throttle.upload((call.app_key, mailbox.upn.lower()), size)
    if retry_after is not None:
        raise GraphError(429, "ApplicationThrottled", "Application is over its upload limit of 150 MB per "
                         "5 minutes for this mailbox.", {"Retry-After": str(retry_after)})
    item = items.create(call, sim, mailbox, "attachment", parent.iid, {"size": size, "isInline": False})
    item.data["size"] = size
    mailbox.touch(parent)
    sim.changed(mailbox, parent, "updated")
    return items.item_reply(call, mailbox, item, "attachments", 201)


async def attachment(call: Call, sim: Sim, user: str, ident: str, attachment_id: str, kind: str = "message",
                     **_: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _parent(mailbox, kind, ident)
    item = items.lookup(mailbox, "attachment", attachment_id, parent.iid)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "attachments")
    mailbox.delete(item)
    mailbox.touch(parent)
    sim.changed(mailbox, parent, "updated")
    return no_content()


async def attachment_value(call: Call, sim: Sim, user: str, ident: str, attachment_id: str,
                           kind: str = "message", **_: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = items.lookup(mailbox, "attachment", attachment_id, _parent(mailbox, kind, ident).iid)
    return Reply(200, base64.b64decode(item.data.get("contentBytes") or ""),
                 {"Content-Type": str(item.data.get("contentType") or "application/octet-stream")})


async def create_session(call: Call, sim: Sim, user: str, ident: str, kind: str = "message", **_: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    parent = _parent(mailbox, kind, ident)
    body = schema.action_params(call.json_object(), ["AttachmentItem"], "createUploadSession")
    spec = body.get("AttachmentItem")
    schema.validate(spec, "attachmentItem", "AttachmentItem.")
    assert isinstance(spec, dict)
    size = spec.get("size")
    if spec.get("attachmentType", "file") != "file" or not isinstance(size, int) or not spec.get("name"):
        raise GraphError(400, "ErrorInvalidRequest", "AttachmentItem needs attachmentType 'file', name and size.")
    if size < SESSION_MIN:
        raise GraphError(400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
                         "Attachment size must be at least 3 MB for an upload session; POST it inline.")
    if size > SESSION_MAX:
        raise GraphError(400, "ErrorAttachmentSizeExceedsLimit", "Attachments are limited to 150 MB.")
    token = secrets.token_urlsafe(24)
    expires = ids.stamp(ids.now() + dt.timedelta(hours=24))
    sim.tenant.uploads[token] = {"mailbox": mailbox.upn, "parent": parent.iid, "spec": spec, "size": size,
                                 "data": bytearray(), "expires": expires,
                                 "key": (call.app_key, mailbox.upn.lower())}
    return ok({"@odata.context": f"{call.base_url}/v1.0/$metadata#microsoft.graph.uploadSession",
               "uploadUrl": f"{call.base_url}/upload/{token}", "expirationDateTime": expires,
               "nextExpectedRanges": ["0-"]}, 201)


def _upload_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(error_body(code, message), status=status)


async def upload_chunk(request: web.Request) -> web.StreamResponse:
    """PUT a byte range to an upload session (or DELETE to cancel it)."""
    sim: Sim = request.app["sim"]
    token = request.match_info["session"]
    session = sim.tenant.uploads.get(token)
    if session is None:
        return _upload_error(404, "ErrorItemNotFound", "The upload session does not exist or has expired.")
    request["mailbox"] = session["mailbox"]
    if request.method == "DELETE":
        del sim.tenant.uploads[token]
        return web.Response(status=204)
    match = _RANGE.match(request.headers.get("Content-Range", ""))
    chunk = await request.read()
    received = len(session["data"])
    if match is None:
        return _upload_error(400, "InvalidContentRange", "Content-Range 'bytes start-end/total' is required.")
    start, end, total = (int(g) for g in match.groups())
    problem = _range_problem(start, end, total, len(chunk), received, session["size"])
    if problem:
        return _upload_error(416 if "expected" in problem else 400, "InvalidRange", problem)
    retry_after = sim.throttle.upload(session["key"], len(chunk))
    if retry_after is not None:
        response = _upload_error(429, "ApplicationThrottled", "Application is over its upload limit of "
                                 "150 MB per 5 minutes for this mailbox.")
        response.headers["Retry-After"] = str(retry_after)
        return response
    session["data"].extend(chunk)
    if len(session["data"]) < session["size"]:
        return web.json_response({"expirationDateTime": session["expires"],
                                  "nextExpectedRanges": [f"{len(session['data'])}-"]})
    del sim.tenant.uploads[token]
    item = _finish(sim, session)
    base = f"{request.scheme}://{request.host}"
    location = f"{base}/v1.0/users('{session['mailbox']}')/messages('{session['parent']}')/attachments('{item.iid}')"
    return web.Response(status=201, headers={"Location": location})


def _range_problem(start: int, end: int, total: int, length: int, received: int, size: int) -> str | None:
    if total != size:
        return f"The total size {total} does not match the session's size {size}."
    if start != received:
        return f"Range start {start} is not the next expected byte {received}."
    if end < start or end - start + 1 != length:
        return f"The range {start}-{end} does not match the {length} bytes sent."
    if length > CHUNK_LIMIT:
        return "A chunk may hold at most 4 MB."
    if end >= size:
        return f"The range ends past the attachment size {size}."
    return None


def _finish(sim: Sim, session: dict[str, Any]) -> Item:
    mailbox = sim.tenant.mailbox(session["mailbox"])
    spec = session["spec"]
    parent = mailbox.items[session["parent"]]
    item = mailbox.add("attachment", parent.iid, {
        "@odata.type": FILE_TYPE, "name": spec.get("name"), "size": session["size"],
        "contentType": spec.get("contentType") or "application/octet-stream",
        "isInline": bool(spec.get("isInline")), "contentId": spec.get("contentId"),
        "contentBytes": base64.b64encode(bytes(session["data"])).decode()})
    mailbox.touch(parent)
    sim.changed(mailbox, parent, "updated")
    return item


def register(router: Router) -> None:
    base = "users/{user}"
    prefixes = [f"{base}/messages/{{ident}}", f"{base}/mailFolders/{{folder}}/messages/{{ident}}",
                f"{base}/events/{{ident}}", f"{base}/calendar/events/{{ident}}",
                f"{base}/calendars/{{calendar}}/events/{{ident}}"]
    for prefix in prefixes:
        kind = "event" if "/events/" in prefix else "message"

        def bind(handler: Any, kind: str = kind) -> Any:
            async def bound(call: Call, sim: Sim, **params: str) -> Reply:
                return await handler(call, sim, kind=kind, **params)  # type: ignore[no-any-return]
            return bound

        router.add("POST", f"{prefix}/attachments/createUploadSession", bind(create_session))
        router.add("GET", f"{prefix}/attachments", bind(list_attachments))
        router.add("POST", f"{prefix}/attachments", bind(add_attachment))
        router.add("GET,DELETE", f"{prefix}/attachments/{{attachment_id}}", bind(attachment))
        router.add("GET", f"{prefix}/attachments/{{attachment_id}}/$value", bind(attachment_value))
