"""Admin surface under ``/_sim`` (no auth, JSON): users, reset, counters, delta expiry, throttling.

``POST /_sim/users`` takes ``"shared": true`` for a shared mailbox (no licence, sign-in disabled);
``POST /_sim/ids`` ``{"marks": "/#?\\"}`` puts those characters into every new id (reset clears them);
``POST /_sim/scope`` ``{"mailboxes": [upn, …] | null}`` limits the app to those mailboxes the way
Exchange RBAC for Applications does (others answer 403 ErrorAccessDenied); ``POST /_sim/deliver``
puts a message from outside the tenant into an Inbox (see :mod:`sim.graph.resources.replies`).

``/_sim/faults`` and ``/_sim/requests`` come from :mod:`sim.common`; subscriptions add
``/_sim/lifecycle``, applications ``/_sim/applications`` and the sending limits ``/_sim/sending``
(see their modules).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sim.graph import ids, sending

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim


LIMIT_FIELDS = ("requests", "window_s", "concurrency", "upload_bytes", "upload_window_s")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text='{"error": "body: invalid JSON"}', content_type="application/json") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "body: expected a JSON object"}',
                                 content_type="application/json")
    return body


def register(app: web.Application, sim: Sim) -> None:
    async def add_user(request: web.Request) -> web.Response:
        body = await _json(request)
        upn = body.get("userPrincipalName")
        if not isinstance(upn, str) or "@" not in upn:
            return _error("userPrincipalName: required, e.g. \"c@contoso.test\"")
        mailbox = sim.tenant.add_user(upn, body.get("displayName"), shared=bool(body.get("shared", False)))
        return web.json_response(mailbox.user, status=201)

    async def scope(request: web.Request) -> web.Response:
        body = await _json(request)
        mailboxes = body.get("mailboxes")
        if mailboxes is not None and (not isinstance(mailboxes, list)
                                      or not all(isinstance(m, str) for m in mailboxes)):
            return _error("mailboxes: expected a list of UPNs, or null for the whole tenant")
        sim.tenant.scope = None if mailboxes is None else {m.lower() for m in mailboxes}
        return web.json_response({"mailboxes": None if sim.tenant.scope is None else sorted(sim.tenant.scope)})

    async def deliver(request: web.Request) -> web.Response:
        from sim.graph.resources import replies
        try:
            item = replies.deliver(sim, await _json(request))
        except ValueError as exc:
            return _error(str(exc))
        return web.json_response({"id": item.ident(True), "internetMessageId": item.data["internetMessageId"],
                                  "conversationId": item.data["conversationId"]}, status=201)

    async def list_users(_: web.Request) -> web.Response:
        return web.json_response([m.user for m in sim.tenant.mailboxes.values()])

    async def reset(_: web.Request) -> web.Response:
        sim.reset()
        return web.json_response({"ok": True})

    async def id_marks(request: web.Request) -> web.Response:
        marks = (await _json(request)).get("marks")
        if not isinstance(marks, str) or len(marks) > 16:
            return _error("marks: expected up to 16 characters to put into every new id, e.g. \"/#?\\\\\"")
        ids.MARKS["marks"] = marks
        return web.json_response({"marks": marks})

    async def counters(_: web.Request) -> web.Response:
        return web.json_response({mailbox: dataclasses.asdict(counter)
                                  for mailbox, counter in sim.throttle.counters.items()})

    async def expire_delta(request: web.Request) -> web.Response:
        body = await _json(request)
        mailbox = body.get("mailbox")
        if mailbox is not None and not isinstance(mailbox, str):
            return _error("mailbox: expected a UPN or omit it for all mailboxes")
        return web.json_response({"expired": sim.tenant.expire_deltas(mailbox)})

    async def throttling(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await _json(request)
            for field in LIMIT_FIELDS:
                if field in body:
                    value = body[field]
                    if not isinstance(value, int | float) or value <= 0:
                        return _error(f"{field}: expected a positive number")
                    setattr(sim.throttle.limits, field, type(getattr(sim.throttle.limits, field))(value))
            unknown = set(body) - set(LIMIT_FIELDS)
            if unknown:
                return _error(f"{sorted(unknown)[0]}: unknown field ({', '.join(LIMIT_FIELDS)})")
        return web.json_response({**dataclasses.asdict(sim.throttle.limits),
                                  "time_scale": sim.throttle.time_scale})

    async def lifecycle(request: web.Request) -> web.Response:
        from sim.graph.resources import subscriptions
        body = await _json(request)
        sub_id, event = body.get("subscriptionId"), body.get("event")
        if event not in LIFECYCLE_EVENTS:
            return _error(f"event: expected one of {', '.join(LIFECYCLE_EVENTS)}")
        if not isinstance(sub_id, str):
            return _error("subscriptionId: required")
        try:
            status = await subscriptions.lifecycle(sim, sub_id, event)
        except KeyError:
            return _error(f"subscriptionId: no subscription '{sub_id}'", 404)
        except ValueError as exc:
            return _error(str(exc))
        return web.json_response({"delivered": status is not None and 200 <= status < 300, "status": status})

    async def notifications(_: web.Request) -> web.Response:
        return web.json_response(sim.notifications)

    async def list_subscriptions(_: web.Request) -> web.Response:
        return web.json_response([{k.lstrip("_"): v for k, v in s.items()}
                                  for s in sim.tenant.subscriptions.values()])

    async def add_application(request: web.Request) -> web.Response:
        from sim.graph.resources import applications
        body = await _json(request)
        name = body.get("displayName")
        if not isinstance(name, str) or not name:
            return _error("displayName: required")
        creds = body.get("passwordCredentials") or []
        if not isinstance(creds, list) or not all(isinstance(c, dict) for c in creds):
            return _error("passwordCredentials: expected a list of {displayName, endDateTime, secretText}")
        try:
            made = [applications.new_credential(sim.tenant, c.get("displayName"), c.get("endDateTime"),
                                                c.get("startDateTime"), c.get("secretText")) for c in creds]
        except ValueError as exc:
            return _error(f"passwordCredentials: bad date ({exc})")
        added = applications.add_application(sim.tenant, name, body.get("appId"), None, made)
        return web.json_response(_with_secrets(added), status=201)

    async def list_applications(_: web.Request) -> web.Response:
        return web.json_response([_with_secrets(a) for a in sim.tenant.applications.values()])

    def _with_secrets(app_obj: dict[str, Any]) -> dict[str, Any]:
        creds = [{**c, "secretText": sim.tenant.secrets.get(c["keyId"])} for c in app_obj["passwordCredentials"]]
        return {**app_obj, "passwordCredentials": creds}

    app.router.add_post("/_sim/applications", add_application)
    app.router.add_get("/_sim/applications", list_applications)
    app.router.add_post("/_sim/lifecycle", lifecycle)
    app.router.add_get("/_sim/notifications", notifications)
    app.router.add_get("/_sim/subscriptions", list_subscriptions)
    app.router.add_post("/_sim/users", add_user)
    app.router.add_post("/_sim/scope", scope)
    app.router.add_post("/_sim/deliver", deliver)
    app.router.add_get("/_sim/users", list_users)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_post("/_sim/ids", id_marks)
    app.router.add_get("/_sim/counters", counters)
    app.router.add_post("/_sim/expire-delta", expire_delta)
    app.router.add_route("GET", "/_sim/throttling", throttling)
    app.router.add_route("POST", "/_sim/throttling", throttling)
    sending.register(app, sim)
