"""The console's router: path → handler, the access table applied to every request, sessions.

:func:`handle` is the whole console for one request; the Functions blueprint and the local host
call it with a :class:`~shared.console.web.WebRequest`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from shared.console import config_pages as cfg
from shared.console import health_pages, render, static, system_pages
from shared.console import sync_pages as sync
from shared.console.access import Caller, Scope, Verdict, decide
from shared.console.context import Ctx
from shared.console.session import COOKIE, Principal, SessionCodec
from shared.console.signin import SignIn
from shared.console.web import BASE, WebRequest, WebResponse, set_cookie
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[WebResponse]]


@dataclasses.dataclass(frozen=True)
class Page:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _page(method: str, template: str, handler: Handler) -> Page:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Page(method, re.compile(f"^{regex}$"), handler)


PAGES: tuple[Page, ...] = (
    _page("GET", "", health_pages.health),
    _page("GET", "health", health_pages.health),
    _page("GET", "health/credentials", health_pages.credentials),
    _page("GET", "health/doctor", health_pages.doctor),
    _page("GET", "policies", cfg.policies),
    _page("GET", "policies/new", cfg.new_policy),
    _page("POST", "policies", cfg.save_policy),
    _page("GET", "policies/{name}", cfg.edit_policy),
    _page("POST", "policies/{name}", cfg.save_policy),
    _page("POST", "policies/{name}/delete", cfg.delete_policy),
    _page("GET", "servers", cfg.servers),
    _page("GET", "servers/new", cfg.new_server),
    _page("POST", "servers", cfg.save_server),
    _page("GET", "servers/{name}", cfg.edit_server),
    _page("POST", "servers/{name}", cfg.save_server),
    _page("POST", "servers/{name}/test", cfg.test_server),
    _page("POST", "servers/{name}/initialize", cfg.initialize_server),
    _page("POST", "servers/{name}/mailboxes", cfg.save_mailbox),
    _page("POST", "servers/{name}/mailboxes/{email}/delete", cfg.delete_mailbox),
    _page("POST", "servers/{name}/schedule", sync.save_schedule),
    _page("GET", "system-mailboxes", system_pages.system_mailboxes),
    _page("GET", "system-mailboxes/new", system_pages.new_system_mailbox),
    _page("POST", "system-mailboxes", system_pages.save_system_mailbox),
    _page("GET", "system-mailboxes/{address}", system_pages.edit_system_mailbox),
    _page("POST", "system-mailboxes/{address}", system_pages.save_system_mailbox),
    _page("POST", "system-mailboxes/{address}/delete", system_pages.delete_system_mailbox),
    _page("POST", "system-mailboxes/{address}/{action}", system_pages.system_action),
    _page("GET", "sync", sync.sync_page),
    _page("GET", "sync/rows", sync.sync_rows),
    _page("POST", "sync/process", sync.process),
    _page("POST", "sync/process-all", sync.process_all),
    _page("GET", "mailboxes/{email}", sync.mailbox_page),
    _page("GET", "mailboxes/{email}/status", sync.mailbox_status),
    _page("GET", "mailboxes/{email}/log", sync.mailbox_log),
    _page("POST", "mailboxes/{email}/reset-dates", sync.reset_dates),
    _page("POST", "mailboxes/{email}/clear-log", sync.clear_log),
    _page("POST", "mailboxes/{email}/reset-warning", sync.reset_warning),
)

PUBLIC = re.compile(r"^(static/[^/]+|signin)$")
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


@dataclasses.dataclass(frozen=True)
class Console:
    """What the console needs besides the runtime: the session key and how people sign in."""

    codec: SessionCodec
    sign_in: SignIn


def _caller(principal: Principal | None) -> Caller:
    if principal is None:
        return Caller.ANONYMOUS
    return Caller.ADMIN if principal.can_change else Caller.READER if principal.can_read else Caller.NO_ROLE


def _csrf_given(req: WebRequest) -> str | None:
    return req.header(CSRF_HEADER) or next(iter(req.form().get(CSRF_FIELD, [])), None)


def _refused(verdict: Verdict, req: WebRequest) -> WebResponse:
    if verdict is Verdict.SIGN_IN:
        target = f"{BASE}/signin?return_to={quote(f'{BASE}/{req.path}', safe='/')}"
        return WebResponse.redirect(target, htmx=req.htmx)
    messages = {
        Verdict.UNAUTHENTICATED: (401, "Sign in first: your session ended."),
        Verdict.NO_ROLE: (403, "Your account has no console role: ask for Exsync.Admin or Exsync.Reader."),
        Verdict.CSRF: (403, "This form is out of date (missing or wrong CSRF token): reload the page and retry."),
        Verdict.READ_ONLY: (403, "Read only: the Exsync.Reader role cannot change anything."),
    }
    status, message = messages[verdict]
    return render.text(message, status)


def _route(req: WebRequest) -> tuple[Page, dict[str, str]] | None:
    path = req.path.strip("/")
    method = "GET" if req.method.upper() == "HEAD" else req.method.upper()
    for page in PAGES:
        match = page.pattern.match(path)
        if match and page.method == method:
            return page, match.groupdict()
    return None


async def _public(req: WebRequest, console: Console, rt: Runtime) -> WebResponse:
    path = req.path.strip("/")
    if path == "signin":
        return await console.sign_in.handle(req, console.codec, rt.clock.now())
    return static.serve(path.removeprefix("static/"), req.query.get("v"), req.header("If-None-Match"))


async def handle(rt: Runtime, console: Console, req: WebRequest) -> WebResponse:
    """One console request: access decision first, then the page or action."""
    path = req.path.strip("/")
    cookie = req.cookie(COOKIE)
    principal = console.codec.decode(cookie, rt.clock.now())
    scope = Scope.PUBLIC if PUBLIC.match(path) else Scope.SESSION if path == "signout" else Scope.CONSOLE
    verdict = decide(scope=scope, caller=_caller(principal), safe=req.safe,
                     csrf_ok=console.codec.csrf_ok(cookie, _csrf_given(req)))
    if verdict is not Verdict.ALLOW:
        logger.info("console %s %s refused: %s", req.method, path.split("/")[0] or "/", verdict.value)
        return _refused(verdict, req)
    if scope is Scope.PUBLIC:
        return await _public(req, console, rt)
    if scope is Scope.SESSION:
        if req.safe:
            return render.text("Sign out with the Sign out button (a POST).", 405)
        gone = set_cookie(COOKIE, "", secure=req.secure, max_age=0)
        return WebResponse(200, b"Signed out.", "text/plain", dict(render.PAGE_HEADERS), (gone,))
    found = _route(req)
    if found is None:
        return render.text(f"no console page {req.method} {path}", 404)
    assert principal is not None and cookie is not None
    page, params = found
    ctx = Ctx(rt, req, principal, console.codec.csrf_token(cookie))
    try:
        return await page.handler(ctx, **params)
    except LookupError as exc:
        return ctx.page("missing.html", 404, what=str(exc), back="health")


def describe() -> list[dict[str, Any]]:
    """The console's pages (for docs and tests)."""
    return [{"method": p.method, "path": p.pattern.pattern} for p in PAGES]
