"""HTTP surface of the simulated Acumatica instance (aiohttp): auth, entities, files, admin.

See the package docstring for the routes. Handlers translate store exceptions into Acumatica's
status codes and ``HttpError`` bodies; the journal and fault middlewares come from
:mod:`sim.common`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import mimetypes
import secrets
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from sim.acumatica import crm, odata, outbox
from sim.acumatica.licence import Licence, Limits, Refused
from sim.acumatica.push import Pusher
from sim.acumatica.schema import UnknownField, field_list, has_path, unwrap, wrap
from sim.acumatica.store import RULES, Invalid, Missing, PreconditionFailed, Store
from sim.common import ADMIN_PREFIX, FaultBook, Journal, add_admin_routes, decode_body, fault_middleware

ENDPOINT = "/entity/Default/24.200.001"
SESSION_COOKIE = "ASP.NET_SessionId"
AUTH_COOKIE = ".ASPXAUTH"
DEFAULT_EMPLOYEE = {"EmployeeID": {"value": "EP00000001"}, "EmployeeName": {"value": "Admin User"},
                    "Status": {"value": "Active"},
                    "ContactInfo": {"Email": {"value": "admin@example.com"}}}


@dataclasses.dataclass(frozen=True)
class Options:
    user: str = "admin"
    password: str = "setup"
    tenant: str = "Company"
    api_users: int = 2
    latency_ms: int = 0
    session_timeout: float = 600.0
    push_retry_delay: float = 0.2
    licence: Limits = dataclasses.field(default_factory=Limits)  # request limits, off by default
    max_query_string: int = 2048  # IIS request filtering's default (maxQueryString)


def http_error(status: int, message: str, exception_type: str = "PX.Api.ContractBased.ApiException") -> dict[str, Any]:
    """Acumatica's ``HttpError`` body."""
    return {"message": "An error has occurred." if status >= 500 else message,
            "exceptionMessage": message, "exceptionType": exception_type, "stackTrace": None}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(http_error(status, message), status=status, headers=headers)


class Simulator:
    """State of one simulated instance: records, sessions, tokens, push, faults, journal."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.clock_offset = 0.0                    # seconds the instance's clock runs ahead (POST /_sim/clock)
        self.store = Store(now=self.now)
        self.sessions: dict[str, float] = {}       # session id -> last use (monotonic)
        self.tokens: dict[str, float] = {}         # access token -> expiry (monotonic)
        self.refresh_tokens: set[str] = set()
        self.faults = FaultBook()
        self.journal = Journal()
        self.pusher = Pusher(options.tenant, retry_delay=options.push_retry_delay)
        self.licence = Licence(options.licence)
        self.seed_defaults()

    def now(self) -> datetime:
        """The instance's clock: LastModifiedDateTime stamps and the HTTP ``Date`` header."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def seed_defaults(self) -> None:
        errors: dict[str, str] = {}
        self.store.upsert("Employee", unwrap("Employee", DEFAULT_EMPLOYEE, errors),
                          create_only=False, update_only=False, type_errors=errors)

    def reset(self) -> None:
        self.clock_offset = 0.0
        self.store = Store(now=self.now)
        self.sessions.clear()
        self.tokens.clear()
        self.refresh_tokens.clear()
        self.faults.clear()
        self.journal.clear()
        self.pusher.reset()
        self.licence.configure(self.options.licence)
        self.seed_defaults()

    # ------------------------------------------------------------ sessions

    def active_sessions(self) -> int:
        cutoff = time.monotonic() - self.options.session_timeout
        for sid in [s for s, seen in self.sessions.items() if seen < cutoff]:
            del self.sessions[sid]
        return len(self.sessions)

    def authorized(self, request: web.Request) -> bool:
        self.active_sessions()
        sid = request.cookies.get(SESSION_COOKIE)
        if sid and sid in self.sessions:
            self.sessions[sid] = time.monotonic()
            return True
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            expiry = self.tokens.get(auth[7:].strip())
            return expiry is not None and expiry > time.monotonic()
        return False


# ---------------------------------------------------------------- middleware


def journal_middleware(sim: Simulator) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read() if request.can_read_body else b""
        status = 500
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if not request.path.startswith(ADMIN_PREFIX):
                body = decode_body(raw) if request.content_type != "application/octet-stream" else (
                    f"<{len(raw)} bytes>" if raw else None)
                sim.journal.record(method=request.method, path=request.path,
                                   query=request.query_string, body=body, status=status)
    return middleware


def latency_middleware(sim: Simulator) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if sim.options.latency_ms and not request.path.startswith(ADMIN_PREFIX):
            await asyncio.sleep(sim.options.latency_ms / 1000)
        response: web.StreamResponse = await handler(request)
        return response
    return middleware


def clock_middleware(sim: Simulator) -> Any:
    """The ``Date`` header from the instance's clock once it was advanced (aiohttp's otherwise)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if sim.clock_offset and not response.prepared:
            response.headers["Date"] = format_datetime(sim.now(), usegmt=True)
        return response
    return middleware


def query_limit_middleware(sim: Simulator) -> Any:
    """IIS (which serves Acumatica) refuses a query string over ``maxQueryString`` before the
    application sees it: 404.15, an HTML page, no session needed."""
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if len(request.rel_url.raw_query_string) > sim.options.max_query_string \
                and not request.path.startswith(ADMIN_PREFIX):
            return web.Response(status=404, content_type="text/html",
                                text="HTTP Error 404.15 - Not Found: the request filtering module is configured "
                                     "to deny a request where the query string is too long "
                                     f"(more than {sim.options.max_query_string} characters).")
        response: web.StreamResponse = await handler(request)
        return response
    return middleware


def licence_middleware(sim: Simulator) -> Any:
    """The licence's per-minute and concurrent-request limits (sign-out and admin are exempt)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX) or request.path == "/entity/auth/logout":
            response: web.StreamResponse = await handler(request)
            return response
        try:
            async with sim.licence.admit():
                response = await handler(request)
                return response
        except Refused as exc:
            return _error(429, exc.reason, {"Retry-After": f"{exc.retry_after:.3g}"})
    return middleware


# ---------------------------------------------------------------- auth routes


async def login(request: web.Request) -> web.Response:
    sim: Simulator = request.app["sim"]
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "The request body must be JSON with name, password and tenant")
    opts = sim.options
    if not isinstance(body, dict) or body.get("name") != opts.user or body.get("password") != opts.password \
            or (body.get("tenant") or opts.tenant) != opts.tenant:
        return web.json_response(http_error(500, "Invalid credentials. Please try again.",
                                            "PX.Data.PXException"), status=500)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and sid in sim.sessions:
        sim.sessions[sid] = time.monotonic()
        return web.Response(status=204)
    if sim.active_sessions() >= opts.api_users:
        return _error(429, "API Login Limit")
    sid = secrets.token_hex(12)
    sim.sessions[sid] = time.monotonic()
    response = web.Response(status=204)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, path="/")
    response.set_cookie(AUTH_COOKIE, secrets.token_hex(16), httponly=True, path="/")
    return response


async def logout(request: web.Request) -> web.Response:
    sim: Simulator = request.app["sim"]
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        sim.sessions.pop(sid, None)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(AUTH_COOKIE, path="/")
    return response


async def token(request: web.Request) -> web.Response:
    """``/identity/connect/token``: password and refresh_token grants (form-encoded)."""
    sim: Simulator = request.app["sim"]
    form = await request.post()
    grant = form.get("grant_type")
    opts = sim.options
    client_id = str(form.get("client_id", ""))
    if not client_id.endswith(f"@{opts.tenant}") or not form.get("client_secret"):
        return web.json_response({"error": "invalid_client"}, status=400)
    if grant == "password":
        if form.get("username") != opts.user or form.get("password") != opts.password:
            return web.json_response({"error": "invalid_grant"}, status=400)
    elif grant == "refresh_token":
        refresh = str(form.get("refresh_token", ""))
        if refresh not in sim.refresh_tokens:
            return web.json_response({"error": "invalid_grant"}, status=400)
        sim.refresh_tokens.discard(refresh)
    else:
        return web.json_response({"error": "unsupported_grant_type"}, status=400)
    access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    sim.tokens[access] = time.monotonic() + 3600
    scope = str(form.get("scope") or "api")
    body: dict[str, Any] = {"access_token": access, "expires_in": 3600, "token_type": "Bearer", "scope": scope}
    if "offline_access" in scope.split() or grant == "refresh_token":
        sim.refresh_tokens.add(refresh)
        body["refresh_token"] = refresh
    return web.json_response(body)


# ---------------------------------------------------------------- entity routes


def _entity(request: web.Request) -> str:
    name = request.match_info["entity"]
    if name not in RULES:
        raise web.HTTPNotFound(text=json.dumps(http_error(404, f"Entity {name} is not in {ENDPOINT}")),
                               content_type="application/json")
    return name


def _options(entity: str, request: web.Request) -> tuple[set[str] | None, set[str], odata.Node | None]:
    """$select, $expand and the parsed $filter; raises 400 naming the bad option."""
    def fail(message: str) -> web.HTTPBadRequest:
        return web.HTTPBadRequest(text=json.dumps(http_error(400, message)), content_type="application/json")

    expand = {e.strip() for e in request.query.get("$expand", "").split(",") if e.strip()}
    for path in expand:
        if path != "files" and not has_path(entity, path.split("/")[0]):
            raise fail(f"$expand: unknown detail or linked entity {path!r}")
    select: set[str] | None = None
    if "$select" in request.query:
        select = set()
        for item in (s.strip() for s in request.query["$select"].split(",") if s.strip()):
            if not has_path(entity, item):
                raise fail(f"$select: unknown field {item!r}")
            head, _, rest = item.partition("/")
            (expand.add(head) if rest else select.add(head))
    node = None
    if request.query.get("$filter"):
        try:
            node = odata.parse(request.query["$filter"], lambda path: has_path(entity, path))
        except odata.FilterError as exc:
            raise fail(str(exc)) from exc
    return select, expand, node


def _serve(sim: Simulator, entity: str, record: dict[str, Any], select: set[str] | None, expand: set[str],
           row: int = 1, errors: dict[str, str] | None = None) -> dict[str, Any]:
    if entity in crm.ENTITIES and "Activities" in expand:
        record = dict(record, Activities=crm.activities(sim.store, record["id"]))
    out = wrap(entity, dict(record, rowNumber=row), select, expand, errors)
    base = f"{ENDPOINT}/{entity}/{record['id']}"
    out["_links"] = {"self": base, "files:put": f"{base}/files/{{filename}}"}
    if "files" in expand:
        key = record.get(RULES[entity].key, record["id"])
        out["files"] = [{"id": f.id, "filename": f"{entity} ({key})\\{f.name}", "href": f"{ENDPOINT}/files/{f.id}"}
                        for f in sim.store.files_of(record["id"])]
    return out


def _need_auth(request: web.Request) -> None:
    if not request.app["sim"].authorized(request):
        raise web.HTTPUnauthorized(text=json.dumps(http_error(401, "You are not logged in.")),
                                   content_type="application/json")


def _int_option(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise web.HTTPBadRequest(text=json.dumps(http_error(400, f"{name}: expected a non-negative integer")),
                                 content_type="application/json")
    return int(raw)


async def list_entities(request: web.Request) -> web.Response:
    _need_auth(request)
    sim: Simulator = request.app["sim"]
    entity = _entity(request)
    select, expand, node = _options(entity, request)
    rows = sim.store.query(entity, node)
    skip, top = _int_option(request, "$skip") or 0, _int_option(request, "$top")
    rows = rows[skip:] if top is None else rows[skip:skip + top]
    return web.json_response([_serve(sim, entity, r, select, expand, i + 1) for i, r in enumerate(rows)])


async def get_entity(request: web.Request) -> web.Response:
    _need_auth(request)
    sim: Simulator = request.app["sim"]
    entity = _entity(request)
    select, expand, _ = _options(entity, request)
    try:
        record = sim.store.get(entity, request.match_info["ident"])
    except Missing as exc:
        return _error(404, str(exc))
    return web.json_response(_serve(sim, entity, record, select, expand))


async def put_entity(request: web.Request) -> web.Response:
    _need_auth(request)
    sim: Simulator = request.app["sim"]
    entity = _entity(request)
    select, expand, node = _options(entity, request)
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "The request body must be a JSON object")
    return commit(sim, entity, body, select, expand, create_only=request.headers.get("If-None-Match") == "*",
                  update_only=request.headers.get("If-Match") == "*", match=node)


def commit(sim: Simulator, entity: str, body: Any, select: set[str] | None, expand: set[str], *,
           create_only: bool = False, update_only: bool = False, match: odata.Node | None = None) -> web.Response:
    """Validate and store one record, notify the webhook, answer like PUT does (``match``: the
    ``$filter`` identifying the record to update)."""
    errors: dict[str, str] = {}
    try:
        plain = unwrap(entity, body, errors)
        record, change = sim.store.upsert(entity, plain, create_only=create_only, update_only=update_only,
                                          type_errors=errors, match=match)
    except UnknownField as exc:
        return _error(400, str(exc))
    except PreconditionFailed as exc:
        return _error(412, str(exc))
    except Invalid as exc:
        shown = _serve(sim, entity, exc.record, None, expand | {"Attendees"} & set(exc.record), 1, exc.errors)
        shown["error"] = "; ".join(exc.errors.values())
        return web.json_response(shown, status=422)
    sim.pusher.notify(change)
    return web.json_response(_serve(sim, entity, record, select, expand))


async def invoke_action(request: web.Request) -> web.Response:
    """``POST /{Entity}/{Action}`` {"entity": {...}, "parameters": {...}}: the Email actions of :mod:`crm`."""
    _need_auth(request)
    sim: Simulator = request.app["sim"]
    entity, action = _entity(request), request.match_info["action"]
    if entity != "Email" or action not in crm.EMAIL_ACTIONS:
        return _error(400, f"Action {action} of {entity} is not supported by the simulator")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "The request body must be JSON: {\"entity\": {...}}")
    target = body.get("entity") if isinstance(body, dict) else None
    ident = str((target or {}).get("id") or "") if isinstance(target, dict) else ""
    if not ident:
        return _error(400, "entity: the Email to act on is required (its id)")
    try:
        email = sim.store.get("Email", ident)
    except Missing as exc:
        return _error(404, str(exc))
    made = crm.from_email(sim.store, action, email)
    if isinstance(made, str):
        return web.json_response({**_serve(sim, "Email", email, None, set()), "error": made}, status=422)
    kind, values = made
    errors: dict[str, str] = {}
    try:
        record, change = sim.store.upsert(kind, values, create_only=True, update_only=False, type_errors=errors)
        _, link_change = sim.store.upsert("Email", {"id": email["id"], "RelatedEntityType": crm.link_type(kind),
                                                         "RelatedEntityNoteID": record["id"]},
                                               create_only=False, update_only=True, type_errors=errors)
    except Invalid as exc:
        return web.json_response({**_serve(sim, "Email", email, None, set()), "error": str(exc)}, status=422)
    sim.pusher.notify(change)
    sim.pusher.notify(link_change)
    return web.Response(status=204)


async def delete_entity(request: web.Request) -> web.Response:
    _need_auth(request)
    sim: Simulator = request.app["sim"]
    entity = _entity(request)
    try:
        change = sim.store.delete(entity, request.match_info["ident"])
    except Missing as exc:
        return _error(404, str(exc))
    sim.pusher.notify(change)
    return web.Response(status=204)


async def put_file(request: web.Request) -> web.Response:
    _need_auth(request)
    sim: Simulator = request.app["sim"]
    entity = _entity(request)
    try:
        stored = sim.store.attach(entity, request.match_info["ident"], request.match_info["filename"],
                                  await request.read())
    except Missing as exc:
        return _error(404, str(exc))
    return web.Response(status=204, headers={"Location": f"{ENDPOINT}/files/{stored.id}"})


async def get_file(request: web.Request) -> web.Response:
    _need_auth(request)
    stored = request.app["sim"].store.files.get(request.match_info["file_id"].lower())
    if stored is None:
        return _error(404, "No file with this id")
    content_type = mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    return web.Response(body=stored.content, content_type=content_type,
                        headers={"Content-Disposition": f'attachment; filename="{stored.name}"'})


async def delete_file(request: web.Request) -> web.Response:
    _need_auth(request)
    if request.app["sim"].store.files.pop(request.match_info["file_id"].lower(), None) is None:
        return _error(404, "No file with this id")
    return web.Response(status=204)


# ---------------------------------------------------------------- admin routes


async def admin_push(request: web.Request) -> web.Response:
    sim: Simulator = request.app["sim"]
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body: expected a JSON object"}, status=400)
    url = body.get("url") if isinstance(body, dict) else None
    headers = body.get("headers", {}) if isinstance(body, dict) else None
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        return web.json_response({"error": "url: expected an http(s) URL or null"}, status=400)
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return web.json_response({"error": "headers: expected an object of strings"}, status=400)
    sim.pusher.configure(url, headers)
    return web.json_response({"ok": True})


async def admin_push_state(request: web.Request) -> web.Response:
    sim: Simulator = request.app["sim"]
    return web.json_response({"url": sim.pusher.url, "deliveries": [
        dataclasses.asdict(d) for d in sim.pusher.deliveries]})


async def admin_reset(request: web.Request) -> web.Response:
    request.app["sim"].reset()
    return web.json_response({"ok": True})


async def admin_sessions(request: web.Request) -> web.Response:
    sim: Simulator = request.app["sim"]
    return web.json_response({"active": sim.active_sessions(), "limit": sim.options.api_users})


async def admin_seed(request: web.Request) -> web.Response:
    """``{"Employee": [record, …], "Contact": [...]}``: stored as PUT would, without a session."""
    sim: Simulator = request.app["sim"]
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body: expected a JSON object"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "body: expected {entity: [records]}"}, status=400)
    created: dict[str, list[Any]] = {}
    for entity, records in body.items():
        if entity not in RULES or not isinstance(records, list):
            return web.json_response({"error": f"{entity}: expected one of {sorted(RULES)} with a list"},
                                     status=400)
        for record in records:
            response = commit(sim, entity, record, None, set())
            if response.status != 200:
                return response
            created.setdefault(entity, []).append(json.loads(response.text or "null"))
    return web.json_response(created)


async def admin_clock(request: web.Request) -> web.Response:
    """GET: the instance's clock; POST ``{"advance_seconds": s}`` moves it forward (never back) until
    the next reset, as if that much time passed: the benchmark's next scheduled cycle."""
    sim: Simulator = request.app["sim"]
    if request.method == "POST":
        try:
            body = await request.json()
            seconds = float(body["advance_seconds"])
        except (ValueError, TypeError, KeyError):
            return web.json_response({"error": "advance_seconds: expected a number of seconds"}, status=400)
        if seconds < 0:
            return web.json_response({"error": "advance_seconds: expected >= 0 (the clock never goes back)"},
                                     status=400)
        sim.clock_offset += seconds
    return web.json_response({"offset_seconds": sim.clock_offset, "now": sim.now().isoformat()})


async def admin_licence(request: web.Request) -> web.Response:
    """GET: the limits and what they did; POST ``{"requests_per_minute": n, "concurrent_requests": n,
    "time_scale": x}`` sets the limits (0: off) until the next reset."""
    sim: Simulator = request.app["sim"]
    if request.method == "POST":
        try:
            body = await request.json()
            limits = Limits(**{k: body[k] for k in ("requests_per_minute", "concurrent_requests", "time_scale",
                                                      "max_queue", "max_wait") if k in body})
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": f"body: expected requests_per_minute, concurrent_requests, "
                                      f"time_scale ({exc})"}, status=400)
        bad = [name for name in ("requests_per_minute", "concurrent_requests", "max_queue")
               if getattr(limits, name) < 0] + [n for n in ("time_scale", "max_wait") if getattr(limits, n) <= 0]
        if bad:
            return web.json_response({"error": f"{', '.join(bad)}: expected counts >= 0 and a time_scale/"
                                      "max_wait > 0"}, status=400)
        sim.licence.configure(limits)
    return web.json_response(sim.licence.counters())


# ---------------------------------------------------------------- app


def create_app(options: Options) -> web.Application:
    sim = Simulator(options)
    app = web.Application(middlewares=[journal_middleware(sim), clock_middleware(sim), query_limit_middleware(sim),
                                       licence_middleware(sim), latency_middleware(sim),
                                       fault_middleware(sim.faults, http_error)],
                          client_max_size=64 * 1024 * 1024)
    app["sim"] = sim
    app.router.add_post("/entity/auth/login", login)
    app.router.add_post("/entity/auth/logout", logout)
    app.router.add_post("/identity/connect/token", token)
    app.router.add_get(f"{ENDPOINT}/files/{{file_id}}", get_file)
    app.router.add_delete(f"{ENDPOINT}/files/{{file_id}}", delete_file)
    app.router.add_get(f"{ENDPOINT}/{{entity}}", list_entities)
    app.router.add_put(f"{ENDPOINT}/{{entity}}", put_entity)
    app.router.add_post(f"{ENDPOINT}/{{entity}}/{{action}}", invoke_action)
    app.router.add_get(f"{ENDPOINT}/{{entity}}/{{ident}}", get_entity)
    app.router.add_delete(f"{ENDPOINT}/{{entity}}/{{ident}}", delete_entity)
    app.router.add_put(f"{ENDPOINT}/{{entity}}/{{ident}}/files/{{filename}}", put_file)
    add_admin_routes(app, sim.faults, sim.journal)
    app.router.add_post(f"{ADMIN_PREFIX}/push", admin_push)
    app.router.add_get(f"{ADMIN_PREFIX}/push", admin_push_state)
    app.router.add_post(f"{ADMIN_PREFIX}/reset", admin_reset)
    app.router.add_post(f"{ADMIN_PREFIX}/seed", admin_seed)
    app.router.add_get(f"{ADMIN_PREFIX}/sessions", admin_sessions)
    app.router.add_get(f"{ADMIN_PREFIX}/licence", admin_licence)
    app.router.add_get(f"{ADMIN_PREFIX}/clock", admin_clock)
    app.router.add_post(f"{ADMIN_PREFIX}/clock", admin_clock)
    app.router.add_post(f"{ADMIN_PREFIX}/licence", admin_licence)
    outbox.register(app, sim, ADMIN_PREFIX, commit)

    async def close_pusher(_: web.Application) -> None:
        await sim.pusher.close()

    app.on_cleanup.append(close_pusher)
    assert field_list()["endpoint"] == "Default/24.200.001"
    return app
