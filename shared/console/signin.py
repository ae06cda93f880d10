"""How a browser gets a console session.

:class:`SignIn` is the interface; two implementations:

- :class:`DevSignIn` (``make serve`` and the browser tests only, installed by the local host):
  ``GET signin?role=admin|reader|none`` signs in a development principal at once.
- :class:`EntraSignIn` (the Function App): OpenID Connect with Entra ID, ``response_type=id_token``
  and ``response_mode=form_post``; the posted ID token is checked by a :class:`TokenValidator`
  (signature against the tenant's keys, ``aud`` = the console's client id, ``iss``, ``exp``,
  ``nonce``). App roles arrive in the token's ``roles`` claim. This flow needs no client secret
  or certificate (the authorization code flow of a web app would, to redeem the code), and the
  console wants no access token: only who signed in and their roles. App Service Authentication is not
  used: the Flex Consumption plan does not support it (unauthenticated callers are not blocked),
  so an ``X-MS-CLIENT-PRINCIPAL`` header could be forged and is never read.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from shared.console import render
from shared.console.session import ADMIN_ROLE, COOKIE, READER_ROLE, Principal, SessionCodec
from shared.console.web import BASE, WebRequest, WebResponse, set_cookie
from shared.errors import NotAuthenticated, RemoteError

logger = logging.getLogger(__name__)

NONCE_COOKIE = "exsync_console_nonce"


class SignIn(Protocol):
    """Answers ``GET`` and ``POST`` on ``/console/signin``."""

    async def handle(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse: ...


class TokenValidator(Protocol):
    """Validates an Entra ID token and returns its claims (with ``oid``), or raises NotAuthenticated
    (RemoteError when the keys cannot be read); :class:`shared.auth.entra.EntraIdTokenValidator`."""

    async def claims(self, token: str, *, audience: str, nonce: str) -> Mapping[str, Any]: ...


def _return_to(value: str | None) -> str:
    """Only paths inside the console are followed after sign-in (no open redirect)."""
    return value if value and value.startswith(f"{BASE}/") and "//" not in value[1:] else f"{BASE}/health"


def session_response(principal: Principal, req: WebRequest, codec: SessionCodec, now: datetime,
                     return_to: str | None) -> WebResponse:
    cookie = set_cookie(COOKIE, codec.encode(principal, now), secure=req.secure)
    return WebResponse.redirect(_return_to(return_to), cookies=(cookie,))


DEV_ROLES = {"admin": frozenset({ADMIN_ROLE}), "reader": frozenset({READER_ROLE}), "none": frozenset()}


@dataclasses.dataclass(frozen=True)
class DevSignIn:
    """Signs in a development principal without a password: for the local host only."""

    async def handle(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse:
        role = (req.query.get("role") or "admin").lower()
        if role not in DEV_ROLES:
            return WebResponse(400, f"role must be one of {', '.join(DEV_ROLES)}".encode(), "text/plain")
        principal = Principal(f"Development {role}", f"dev-{role}", DEV_ROLES[role])
        return session_response(principal, req, codec, now, req.query.get("return_to"))


ATTEMPT_SECONDS = 600   # a sign-in must come back from Entra within ten minutes
NO_ROLE = ("Your account has no console role. Ask an administrator to assign you Exsync.Admin (change "
           "settings) or Exsync.Reader (read only) in Entra ID: Enterprise applications, the console's app, "
           "Users and groups. Then sign in again.")


def _message(status: int, title: str, message: str, cookies: tuple[str, ...] = ()) -> WebResponse:
    page = render.html("signin_message.html", status, title=title, message=message)
    return dataclasses.replace(page, cookies=cookies)


@dataclasses.dataclass(frozen=True)
class EntraSignIn:
    """OpenID Connect sign-in with Entra ID (the console's own app registration).

    ``GET signin`` sends the browser to the tenant's authorize endpoint with a fresh ``nonce`` and
    ``state``, both kept in a short-lived signed cookie; Entra posts the ID token back to
    ``POST signin``. The token must answer this attempt (state, nonce, at most
    :data:`ATTEMPT_SECONDS` old); the cookie is spent either way.
    """

    tenant_id: str
    client_id: str
    validator: TokenValidator
    authority: str = "https://login.microsoftonline.com"

    async def handle(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse:
        if req.method.upper() == "POST":
            return await self._finish(req, codec, now)
        return self._start(req, codec, now)

    def _start(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse:
        nonce, state = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        pending = json.dumps({"nonce": nonce, "state": state, "at": int(now.timestamp()),
                              "to": _return_to(req.query.get("return_to"))})
        query = urlencode({"client_id": self.client_id, "response_type": "id_token", "response_mode": "form_post",
                           "redirect_uri": f"{req.origin}{BASE}/signin", "scope": "openid profile",
                           "nonce": nonce, "state": state})
        cookie = _attempt_cookie(req, codec.sign(pending), ATTEMPT_SECONDS)
        authorize = f"{self.authority.rstrip('/')}/{self.tenant_id}/oauth2/v2.0/authorize?{query}"
        return WebResponse(302, headers={"Location": authorize}, cookies=(cookie,))

    async def _finish(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse:
        spent = (_attempt_cookie(req, "", 0),)
        form = {k: v[0] for k, v in req.form().items()}
        pending = _pending(codec.unsign(req.cookie(NONCE_COOKIE)), now)
        if pending is None:
            return _message(400, "Sign-in expired", "This sign-in was started too long ago or in another browser.",
                            spent)
        if form.get("state") != pending["state"]:   # before anything posted is shown or checked
            return _message(400, "Sign-in refused", "The answer does not belong to this browser's sign-in.", spent)
        if form.get("error") or not form.get("id_token"):
            logger.info("console sign-in: Entra answered %s", form.get("error") or "without an ID token")
            said = form.get("error_description") or form.get("error") or "no ID token"
            return _message(400, "Sign-in did not finish", f"Entra ID answered: {said}", spent)
        try:
            claims = await self.validator.claims(form["id_token"], audience=self.client_id, nonce=pending["nonce"])
        except NotAuthenticated as exc:
            logger.info("console sign-in refused: %s", exc)
            return _message(401, "Sign-in refused", str(exc), spent)
        except RemoteError as exc:
            logger.warning("console sign-in: %s", exc)
            return _message(503, "Sign-in unavailable", "Entra ID's signing keys could not be read; try again in a "
                                                        "minute.", spent)
        principal = Principal(str(claims.get("name") or claims.get("preferred_username") or claims["oid"]),
                              str(claims["oid"]), frozenset(str(r) for r in claims.get("roles") or ()))
        if not principal.can_read:
            return _message(403, "No console role", NO_ROLE, spent)
        done = session_response(principal, req, codec, now, pending["to"])
        return dataclasses.replace(done, cookies=done.cookies + spent)


def _attempt_cookie(req: WebRequest, value: str, max_age: int) -> str:
    """The sign-in attempt's cookie: it must come along on Entra's cross-site form POST, so over https
    it is ``SameSite=None; Secure`` (a plain-http local issuer is same-site: Lax is enough)."""
    return set_cookie(NONCE_COOKIE, value, secure=req.secure, max_age=max_age,
                      same_site="None" if req.secure else "Lax")


def _pending(text: str | None, now: datetime) -> dict[str, Any] | None:
    """The signed attempt (nonce, state, return path) if it is younger than ATTEMPT_SECONDS."""
    if text is None:
        return None
    try:
        pending: dict[str, Any] = json.loads(text)
        fresh = 0 <= now.timestamp() - int(pending["at"]) <= ATTEMPT_SECONDS
    except (ValueError, KeyError, TypeError):
        return None
    return pending if fresh and {"nonce", "state", "to"} <= pending.keys() else None
