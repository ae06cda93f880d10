"""Admin API handlers: policies, servers, mailboxes, sync requests, status and log.

Each handler takes the :class:`~shared.runtime.Runtime` and an :class:`ApiRequest` and returns an
:class:`ApiResponse`; :data:`ROUTES` lists every route (the Functions adapters and the OpenAPI
document are both generated from it). Errors are exsync errors, mapped to 4xx by
:func:`shared.admin.http.error_response`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.admin import addin as addin_api
from shared.admin import bodies, erp_feed, system_mailboxes, transactional_mail
from shared.admin.enqueue import enqueue_syncs
from shared.admin.http import ApiRequest, ApiResponse, error_json, error_response
from shared.admin.lookup import DEFAULT_POLICY, mailbox_context
from shared.admin.status import live_status, set_warning, shown_last_run, status_to_json, update_status
from shared.admin.subscriptions import keep_with_graph
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy, parse, validation_errors
from shared.domain.records import RecordType
from shared.domain.status import LogEntry, LogLevel, MailboxStatus
from shared.errors import AlreadyExists, ConcurrencyConflict, ExsyncError, NotFound, ValidationFailed
from shared.ports import Stored
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

Handler = Callable[[Runtime, ApiRequest], Awaitable[ApiResponse]]


@dataclasses.dataclass(frozen=True)
class Route:
    """One admin operation: ``template`` is relative to ``/api``."""

    name: str
    method: str
    template: str
    handler: Handler
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    list_response: bool = False
    success: int = 200
    query: tuple[str, ...] = ()
    anonymous: bool = False  # no function key: the handler checks the caller's Entra token itself


def _etag_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag}


IF_MATCH = "If-Match"


def _if_match(req: ApiRequest, stored: Stored[Any] | None) -> str | None:
    """The ETag a conditional write must match (None: unconditional, no header or ``*``).

    Checked here against the row just read, so an empty, malformed or stale header is a 400/412
    naming ``If-Match`` instead of reaching the store; the store re-checks the ETag atomically.
    """
    value = req.header(IF_MATCH)
    if value is None or value.strip() == "*":
        return None
    if not value.strip():
        raise ValidationFailed({IF_MATCH: "is empty; send the ETag of a GET, or leave the header out"})
    if stored is None or value.strip() != stored.etag:
        raise ConcurrencyConflict("the ETag in If-Match is not the current one (changed or deleted since it "
                                  "was read); GET it again and retry with its ETag", field=IF_MATCH)
    return stored.etag


def _body(model: type[M], data: dict[str, Any]) -> M:
    """A request body validated in strict JSON mode, as the OpenAPI document types it: ``0`` is not a
    boolean and ``"5"`` not a number; ValidationFailed names every bad field."""
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise ValidationFailed(validation_errors(exc)) from exc


def _same_name(body: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    given = body.get(key)
    if key in body and not (isinstance(given, str) and given.lower() == value.lower()):
        raise ValidationFailed({key: f"differs from the URL ({value}); remove it or make them equal"})
    return {**body, key: value}


# ---------------------------------------------------------------- policies


async def list_policies(rt: Runtime, req: ApiRequest) -> ApiResponse:
    items = [s.value.model_dump(mode="json") for s in await rt.state.list_policies()]
    return ApiResponse.json(sorted(items, key=lambda p: p["name"]))


async def create_policy(rt: Runtime, req: ApiRequest) -> ApiResponse:
    policy = _body(SyncPolicy, req.json_object())
    etag = await _created(rt.state.put_policy(policy))
    logger.info("policy %s created", policy.name)
    return ApiResponse.json(policy.model_dump(mode="json"), 201, _etag_headers(etag))


async def _created(write: Awaitable[str]) -> str:
    """A create-only write; an existing row blames the body's ``name``."""
    try:
        return await write
    except AlreadyExists as exc:
        raise AlreadyExists(f"{exc}; or choose another name", field="name") from exc


def _found(stored: Stored[M] | None, what: str) -> Stored[M]:
    """The stored row, or NotFound naming ``what`` (e.g. "policy sales")."""
    if stored is None:
        raise NotFound(f"{what} does not exist")
    return stored


def _stored_json(stored: Stored[M]) -> ApiResponse:
    return ApiResponse.json(stored.value.model_dump(mode="json"), headers=_etag_headers(stored.etag))


async def get_policy(rt: Runtime, req: ApiRequest) -> ApiResponse:
    name = req.param("name")
    return _stored_json(_found(await rt.state.get_policy(name), f"policy {name}"))


async def put_policy(rt: Runtime, req: ApiRequest) -> ApiResponse:
    name = req.param("name")
    policy = _body(SyncPolicy, _same_name(req.json_object(), "name", name))
    existing = await rt.state.get_policy(name)
    etag_in = _if_match(req, existing)
    etag = await rt.state.put_policy(policy, etag_in, force=etag_in is None)
    return ApiResponse.json(policy.model_dump(mode="json"), 200 if existing else 201, _etag_headers(etag))


async def delete_policy(rt: Runtime, req: ApiRequest) -> ApiResponse:
    name = req.param("name")
    users = [m.value.email for m in await rt.state.list_mailboxes() if m.value.policy == name]
    servers = [s.value.name for s in await rt.state.list_servers() if s.value.default_policy == name]
    if users or servers:
        raise ValidationFailed({"name": f"policy {name} is in use (mailboxes: {', '.join(users) or '-'}; "
                                        f"servers: {', '.join(servers) or '-'}); reassign them first"})
    stored = _found(await rt.state.get_policy(name), f"policy {name}")
    await rt.state.delete_policy(name, _if_match(req, stored))
    return ApiResponse.empty()


# ---------------------------------------------------------------- servers


async def _check_policy_exists(rt: Runtime, name: str | None, field: str) -> None:
    if name and name != DEFAULT_POLICY and await rt.state.get_policy(name) is None:
        raise ValidationFailed({field: f"policy {name} does not exist; create it first (POST /api/policies)"})


async def list_servers(rt: Runtime, req: ApiRequest) -> ApiResponse:
    items = [s.value.model_dump(mode="json") for s in await rt.state.list_servers()]
    return ApiResponse.json(sorted(items, key=lambda s: s["name"]))


async def create_server(rt: Runtime, req: ApiRequest) -> ApiResponse:
    server = _body(ServerConfig, {**rt.settings.server_defaults(), **req.json_object()})
    await _check_policy_exists(rt, server.default_policy, "default_policy")
    etag = await _created(rt.state.put_server(server))
    logger.info("server %s created", server.name)
    return ApiResponse.json(server.model_dump(mode="json"), 201, _etag_headers(etag))


async def _server(rt: Runtime, name: str) -> ServerConfig:
    return _found(await rt.state.get_server(name), f"server {name}").value


async def get_server(rt: Runtime, req: ApiRequest) -> ApiResponse:
    name = req.param("name")
    return _stored_json(_found(await rt.state.get_server(name), f"server {name}"))


async def put_server(rt: Runtime, req: ApiRequest) -> ApiResponse:
    name = req.param("name")
    server = _body(ServerConfig, {**rt.settings.server_defaults(), **_same_name(req.json_object(), "name", name)})
    await _check_policy_exists(rt, server.default_policy, "default_policy")
    existing = await rt.state.get_server(name)
    etag_in = _if_match(req, existing)
    etag = await rt.state.put_server(server, etag_in, force=etag_in is None)
    return ApiResponse.json(server.model_dump(mode="json"), 200 if existing else 201, _etag_headers(etag))


async def delete_server(rt: Runtime, req: ApiRequest) -> ApiResponse:
    name = req.param("name")
    stored = _found(await rt.state.get_server(name), f"server {name}")
    mailboxes = await rt.state.list_mailboxes(name)
    if mailboxes:
        raise ValidationFailed({"name": f"server {name} still has {len(mailboxes)} mailbox(es); "
                                        "delete them first"})
    await rt.state.delete_server(name, _if_match(req, stored))
    return ApiResponse.empty()


async def test_server(rt: Runtime, req: ApiRequest) -> ApiResponse:
    server = await _server(rt, req.param("name"))
    mailboxes = [m.value for m in await rt.state.list_mailboxes(server.name)]
    if rt.server_tester is not None:
        report = await rt.server_tester(server, mailboxes)
        return ApiResponse.json(report)
    findings: list[dict[str, Any]] = []
    gateway = await rt.mailbox_gateway(server)
    for mailbox in mailboxes:
        try:
            await gateway.ensure_container(mailbox.email, RecordType.CONTACT, None)
            findings.append({"check": "mailbox", "target": mailbox.email, "ok": True})
        except ExsyncError as exc:
            findings.append({"check": "mailbox", "target": mailbox.email, "ok": False,
                             "message": str(exc), "fix": exc.fix or "check the app's permissions and RBAC scope"})
    return ApiResponse.json({"server": server.name, "ok": all(f["ok"] for f in findings),
                             "findings": findings})


async def initialize_server(rt: Runtime, req: ApiRequest) -> ApiResponse:
    server = await _server(rt, req.param("name"))
    body = _body(bodies.InitializeBody, req.json_object(optional=True))
    known = {m.value.email: m.value for m in await rt.state.list_mailboxes(server.name)}
    wanted = [e.lower() for e in body.mailboxes] or sorted(known)
    unknown = [e for e in wanted if e not in known]
    if unknown:
        raise ValidationFailed({"mailboxes": f"not mailboxes of server {server.name}: {', '.join(unknown)}"})
    gateway = await rt.mailbox_gateway(server)
    results = []
    for email in wanted:
        _, _, policy = await mailbox_context(rt.state, email)
        try:
            await gateway.ensure_category(email, policy.category.name, policy.category.color)
            folders = {}
            for rtype, sub in ((RecordType.CONTACT, policy.contacts), (RecordType.EMAIL, policy.emails),
                               (RecordType.TASK, policy.tasks), (RecordType.EVENT, policy.events)):
                if sub.enabled:
                    folders[rtype.value] = await gateway.ensure_container(email, rtype, sub.folder)
            results.append({"mailbox": email, "ok": True, "containers": folders})
        except ExsyncError as exc:
            results.append({"mailbox": email, "ok": False, "message": str(exc)})
    # Change notifications start now, not at the keeper's next half-hourly run.
    kept = await keep_with_graph(rt)
    return ApiResponse.json({"server": server.name, "mailboxes": results,
                             "subscriptions": dataclasses.asdict(kept)})


# ---------------------------------------------------------------- mailboxes


def _mailbox_json(mailbox: Mailbox) -> dict[str, Any]:
    return mailbox.model_dump(mode="json")


async def list_server_mailboxes(rt: Runtime, req: ApiRequest) -> ApiResponse:
    server = await _server(rt, req.param("name"))
    items = []
    for stored in await rt.state.list_mailboxes(server.name):
        status = await rt.state.get_status(stored.value.email)
        entry = _mailbox_json(stored.value)
        entry["status"] = status_to_json(status.value) if status else None
        items.append(entry)
    return ApiResponse.json(sorted(items, key=lambda m: m["email"]))


async def put_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    server = await _server(rt, req.param("name"))
    email = req.param("email").lower()
    body = _body(bodies.MailboxBody, req.json_object())
    await _check_policy_exists(rt, body.policy, "policy")
    mailbox = parse(Mailbox, {"email": email, "server": server.name, **body.model_dump()})
    existing = await rt.state.get_mailbox(mailbox.email)
    if existing is not None and existing.value.server != server.name:
        raise ValidationFailed({"email": f"{email} belongs to server {existing.value.server}; "
                                         "delete it there first"})
    etag_in = _if_match(req, existing)
    etag = await rt.state.put_mailbox(mailbox, etag_in, force=etag_in is None)
    return ApiResponse.json(_mailbox_json(mailbox), 200 if existing else 201, _etag_headers(etag))


async def delete_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    server = await _server(rt, req.param("name"))
    email = req.param("email").lower()
    existing = await rt.state.get_mailbox(email)
    if existing is None or existing.value.server != server.name:
        raise NotFound(f"mailbox {email} is not configured under server {server.name}")
    await rt.state.delete_mailbox(email, _if_match(req, existing))
    await erp_feed.forget(rt.state, email)
    return ApiResponse.empty()


# ---------------------------------------------------------------- sync


async def select_mailboxes(rt: Runtime, body: bodies.SyncBody) -> list[Mailbox]:
    """Mailboxes a sync request names (or all), filtered by server and policy."""
    servers = {s.value.name: s.value for s in await rt.state.list_servers()}
    if body.server and body.server not in servers:
        raise ValidationFailed({"server": f"server {body.server} does not exist"})
    if body.all:
        chosen = [m.value for m in await rt.state.list_mailboxes(body.server)]
        chosen = [m for m in chosen if m.sync and servers.get(m.server) and servers[m.server].is_active]
    else:
        chosen, unknown = [], []
        for email in body.mailboxes:
            stored = await rt.state.get_mailbox(email.lower())
            if stored is None:
                unknown.append(email)
            else:
                chosen.append(stored.value)
        if unknown:
            raise ValidationFailed({"mailboxes": f"unknown mailboxes: {', '.join(unknown)}; add them under "
                                                 "a server first"})
        if body.server:
            chosen = [m for m in chosen if m.server == body.server]
    if body.policy:
        chosen = [m for m in chosen if m.server in servers
                  and m.policy_name(servers[m.server]) == body.policy]
    return chosen


async def request_sync(rt: Runtime, req: ApiRequest) -> ApiResponse:
    body = _body(bodies.SyncBody, req.json_object())
    chosen = await select_mailboxes(rt, body)
    types = tuple(body.types) if body.types else None
    run_id = await enqueue_syncs(rt, chosen, reason="manual", record_types=types)
    return ApiResponse.json({"run_id": run_id, "queued": [m.email for m in chosen]}, 202)


# ---------------------------------------------------------------- status and log


async def get_status(rt: Runtime, req: ApiRequest) -> ApiResponse:
    email = req.param("email").lower()
    if await rt.state.get_mailbox(email) is None:
        raise NotFound(f"mailbox {email} is not configured")
    stored = await rt.state.get_status(email)
    out = status_to_json(stored.value if stored else MailboxStatus(email=email))
    out.update(await live_status(rt.state, email))
    out["last_run"] = await shown_last_run(rt.state, email, out["last_run"])
    return ApiResponse.json(out)


async def reset_status(rt: Runtime, req: ApiRequest) -> ApiResponse:
    email = req.param("email").lower()
    await mailbox_context(rt.state, email)
    body = _body(bodies.StatusResetBody, req.json_object(optional=True))
    types = [body.type] if body.type else list(RecordType)
    since = body.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    export = body.direction in ("export", "both")
    imp = body.direction in ("import", "both")
    for rtype in types:
        # Listing cursors are opaque (a Graph delta link, a compressed ERP watermark): drop them and
        # the next run re-reads that side; echo detection makes the re-read write only real changes.
        if export:
            await rt.state.delete_cursor(email, f"{rtype.value}.erp")
        if imp:
            await rt.state.delete_cursor(email, f"{rtype.value}.mailbox")

    def change(status: MailboxStatus) -> MailboxStatus:
        exp = dict(status.export_dates)
        imd = dict(status.import_dates)
        for rtype in types:
            if export:
                exp.pop(rtype, None)
                if since is not None:
                    exp[rtype] = since
            if imp:
                imd.pop(rtype, None)
        return dataclasses.replace(status, export_dates=exp, import_dates=imd)

    status = await update_status(rt.state, email, change)
    logger.info("status of a mailbox reset (%s, %s)", ",".join(t.value for t in types), body.direction)
    return ApiResponse.json(status_to_json(status))


def _level(text: str | None) -> LogLevel | None:
    if not text:
        return None
    try:
        return LogLevel[text.upper()]
    except KeyError as exc:
        names = ", ".join(level.name.lower() for level in LogLevel)
        raise ValidationFailed({"level": f"unknown level {text}; use one of {names}"}) from exc


def _limit(text: str | None) -> int:
    if not text:
        return 100
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ValidationFailed({"limit": "expected a number from 1 to 1000"})
    return int(text)


async def get_log(rt: Runtime, req: ApiRequest) -> ApiResponse:
    email = req.param("email").lower()
    if await rt.state.get_mailbox(email) is None:
        raise NotFound(f"mailbox {email} is not configured")
    page = await rt.state.list_log(email, _level(req.query.get("level")), _limit(req.query.get("limit")),
                                   req.query.get("cursor") or None)
    entries = [{"level": e.level.name.lower(), "at": e.at.isoformat(), "message": e.message,
                "record_type": e.record_type.value if e.record_type else None}
               for e in page.items if isinstance(e, LogEntry)]
    return ApiResponse.json({"entries": entries, "next_cursor": None if page.complete else page.cursor})


async def clear_log(rt: Runtime, req: ApiRequest) -> ApiResponse:
    email = req.param("email").lower()
    if await rt.state.get_mailbox(email) is None:
        raise NotFound(f"mailbox {email} is not configured")
    removed = await rt.state.clear_log(email)
    return ApiResponse.json({"deleted": removed})


async def reset_warning(rt: Runtime, req: ApiRequest) -> ApiResponse:
    email = req.param("email").lower()
    if await rt.state.get_mailbox(email) is None:
        raise NotFound(f"mailbox {email} is not configured")
    status = await set_warning(rt.state, email, None)
    return ApiResponse.json(status_to_json(status))


# ---------------------------------------------------------------- table

P, S = SyncPolicy, ServerConfig
ROUTES: tuple[Route, ...] = (
    Route("list_policies", "GET", "policies", list_policies, "List policies", response=P, list_response=True),
    Route("create_policy", "POST", "policies", create_policy, "Create a policy", P, P, success=201),
    Route("get_policy", "GET", "policies/{name}", get_policy, "Get a policy", response=P),
    Route("put_policy", "PUT", "policies/{name}", put_policy, "Create or replace a policy", P, P),
    Route("delete_policy", "DELETE", "policies/{name}", delete_policy, "Delete an unused policy",
          success=204),
    Route("list_servers", "GET", "servers", list_servers, "List servers", response=S, list_response=True),
    Route("create_server", "POST", "servers", create_server, "Create a server", S, S, success=201),
    Route("get_server", "GET", "servers/{name}", get_server, "Get a server", response=S),
    Route("put_server", "PUT", "servers/{name}", put_server, "Create or replace a server", S, S),
    Route("delete_server", "DELETE", "servers/{name}", delete_server, "Delete a server without mailboxes",
          success=204),
    Route("test_server", "POST", "servers/{name}/test", test_server,
          "Test server: token, permissions, each mailbox reachable", response=bodies.TestReport),
    Route("initialize_server", "POST", "servers/{name}/initialize", initialize_server,
          "Create categories and folders in the mailboxes", bodies.InitializeBody),
    Route("list_mailboxes", "GET", "servers/{name}/mailboxes", list_server_mailboxes,
          "List a server's mailboxes with status", response=bodies.MailboxOut, list_response=True),
    Route("put_mailbox", "PUT", "servers/{name}/mailboxes/{email}", put_mailbox,
          "Add or change a mailbox", bodies.MailboxBody),
    Route("delete_mailbox", "DELETE", "servers/{name}/mailboxes/{email}", delete_mailbox,
          "Remove a mailbox", success=204),
    Route("request_sync", "POST", "sync", request_sync, "Queue a sync of mailboxes", bodies.SyncBody,
          bodies.SyncAccepted, success=202),
    Route("get_status", "GET", "mailboxes/{email}/status", get_status, "Sync status of a mailbox",
          response=bodies.StatusOut),
    Route("reset_status", "POST", "mailboxes/{email}/status/reset", reset_status,
          "Reset export/import dates so the next run re-reads", bodies.StatusResetBody, bodies.StatusOut),
    Route("get_log", "GET", "mailboxes/{email}/log", get_log, "A mailbox's sync log, newest first",
          response=bodies.LogPage, query=("level", "limit", "cursor")),
    Route("clear_log", "DELETE", "mailboxes/{email}/log", clear_log, "Clear a mailbox's log"),
    Route("reset_warning", "POST", "mailboxes/{email}/reset-warning", reset_warning,
          "Clear a mailbox's warning", response=bodies.StatusOut),
    *(Route(**spec) for spec in system_mailboxes.ROUTE_SPECS),
    *(Route(**spec) for spec in addin_api.ROUTE_SPECS),
    *(Route(**spec) for spec in transactional_mail.ROUTE_SPECS),
)


def routes_by_template() -> dict[str, list[Route]]:
    out: dict[str, list[Route]] = {}
    for route in ROUTES:
        out.setdefault(route.template, []).append(route)
    return out


def _path_params(template: str) -> list[str]:
    return re.findall(r"{(\w+)}", template)


async def dispatch(rt: Runtime, template: str, req: ApiRequest) -> ApiResponse:
    """Run the handler for ``template`` and the request's method; every error is the one error shape.

    exsync errors map to the status that blames the right party (:func:`error_response`); anything
    else is a bug: logged with its traceback, answered 500 without details.
    """
    routes = [r for r in ROUTES if r.template == template]
    for route in routes:
        if route.method == req.method.upper():
            params = _path_params(template)
            try:
                return await route.handler(rt, req)
            except ExsyncError as exc:
                logger.info("%s %s -> %s", req.method, template, type(exc).__name__)
                return error_response(exc, params[-1] if params else None)
            except Exception:
                logger.exception("%s /api/%s failed", req.method, template)
                return error_json(500, "internal_error", "unexpected error; the app's log has the details")
    allow = ", ".join(sorted({r.method for r in routes}))
    return error_json(405, "method_not_allowed", f"{req.method} is not allowed on /api/{template}; use {allow}",
                      headers={"Allow": allow})
