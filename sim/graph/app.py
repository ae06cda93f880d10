"""The aiohttp application: auth, latency, throttling, faults, journal, Graph routes and ``/_sim`` admin.

The state and the request pipeline live in :mod:`sim.graph.state`; this module wires the resources
into it and serves it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from sim.common import add_admin_routes, decode_body, fault_middleware
from sim.graph import batch
from sim.graph.call import Call, Reply
from sim.graph.errors import GraphError, error_body, fault_body
from sim.graph.resources import applications, attachments, register_all, subscriptions
from sim.graph.sending import SendingQuota
from sim.graph.state import SimState
from sim.graph.throttle import Limits

log = logging.getLogger(__name__)
JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"


def app_key(authorization: str) -> str:
    """The throttling key of a bearer token: its ``appid``/``azp`` claim if a JWT, else the token."""
    token = authorization[7:].strip()
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            return str(claims.get("appid") or claims.get("azp") or token)
        except (ValueError, UnicodeDecodeError):
            return token
    return token


class Sim(SimState):
    """The simulator: its state wired to every Graph resource."""

    def __init__(self, users: list[str], latency_ms: int = 0, time_scale: float = 1.0,
                 limits: Limits | None = None, app_id: str | None = None) -> None:
        super().__init__(users, latency_ms, time_scale, limits, app_id)
        self.sending = SendingQuota(time_scale)  # Exchange's sending limits (sim.graph.sending)
        applications.seed(self.tenant, app_id)
        register_all(self.router)
        self.change_hooks.append(lambda mb, item, change, where: subscriptions.on_change(
            self, mb, item, change, where))

    def reset(self) -> None:
        super().reset()
        self.sending.reset()
        applications.seed(self.tenant, self.app_id)


def to_response(reply: Reply) -> web.Response:
    headers = dict(reply.headers)
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    if isinstance(reply.body, bytes):
        return web.Response(status=reply.status, body=reply.body, headers=headers)
    if isinstance(reply.body, str):
        return web.Response(status=reply.status, text=reply.body, content_type="text/plain", headers=headers)
    headers["Content-Type"] = JSON_TYPE
    return web.Response(status=reply.status, body=json.dumps(reply.body).encode(), headers=headers)


def _unauthorized() -> Reply:
    return Reply(401, error_body("InvalidAuthenticationToken", "Access token is empty."),
                 {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                                      'common/oauth2/authorize"'})


async def graph_handler(request: web.Request) -> web.StreamResponse:
    sim: Sim = request.app["sim"]
    authorization = request.headers.get("Authorization", "")
    if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
        return to_response(_unauthorized())
    raw = await request.read()
    try:
        mime = request.content_type == "text/plain"  # MIME send: base64 text (see resources/replies.py)
        body = raw.decode("utf-8", "replace") if mime else json.loads(raw) if raw.strip() else None
    except ValueError:
        return to_response(Reply(400, error_body(
            "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set "
            "and payload is of valid JSON format.")))
    base = f"{request.scheme}://{request.host}"
    call = Call(request.method, request.rel_url.raw_path, dict(request.query), request.headers, body, base,
                app_key(authorization))
    if [s.lower() for s in call.segments] == ["$batch"]:
        if request.method != "POST":
            return to_response(Reply(405, error_body("BadRequest", "$batch accepts POST only.")))
        if sim.latency:
            await asyncio.sleep(sim.latency)
        try:
            reply = await batch.run_batch(call, sim)
        except GraphError as exc:
            reply = Reply(exc.status, exc.body(), exc.headers)
        return to_response(reply)
    reply = await sim.execute(call)
    request["mailbox"] = call.mailbox
    reply.headers.update(_standard_headers(call))
    return to_response(reply)


def _standard_headers(call: Call) -> dict[str, str]:
    """``request-id``/``client-request-id`` and ``Preference-Applied`` as Graph sends them."""
    request_id = call.headers.get("client-request-id") or str(uuid.uuid4())
    headers = {"request-id": str(uuid.uuid4()), "client-request-id": request_id, "OData-Version": "4.0"}
    applied = []
    if call.immutable:
        applied.append('IdType="ImmutableId"')
    if call.maxpagesize is not None:
        applied.append(f"odata.maxpagesize={call.maxpagesize}")
    if call.body_type is not None:
        applied.append(f'outlook.body-content-type="{call.body_type}"')
    if applied:
        headers["Preference-Applied"] = ", ".join(applied)
    return headers


@web.middleware
async def journal_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
    """Journal every non-admin request in the order received; status and mailbox filled in after."""
    if request.path.startswith("/_sim"):
        return await handler(request)
    sim: Sim = request.app["sim"]
    raw = await request.read()
    sim.journal.record(method=request.method, path=request.path, query=dict(request.query),
                       body=None if request.path.startswith("/upload/") else decode_body(raw),
                       status=None, mailbox=None, batched=False)
    entry = sim.journal.entries[-1]
    try:
        response = await handler(request)
        entry["status"] = response.status
        return response
    finally:
        entry["mailbox"] = request.get("mailbox")


def build_app(sim: Sim) -> web.Application:
    app = web.Application(middlewares=[journal_middleware, fault_middleware(sim.faults, fault_body)],
                          client_max_size=200 * 1024 * 1024)
    app["sim"] = sim

    async def close_sim(_: web.Application) -> None:
        await sim.close()

    app.on_cleanup.append(close_sim)
    add_admin_routes(app, sim.faults, sim.journal)
    from sim.graph import admin
    from sim.graph.resources import entra
    admin.register(app, sim)
    entra.register(app, sim)
    app.router.add_route("PUT", "/upload/{session}", attachments.upload_chunk)
    app.router.add_route("DELETE", "/upload/{session}", attachments.upload_chunk)
    app.router.add_route("*", "/v1.0/{tail:.*}", graph_handler)
    app.router.add_route("*", "/v1.0", graph_handler)
    return app
