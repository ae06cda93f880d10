"""How a browser gets a console session.

:class:`SignIn` is the interface; two implementations:

- :class:`DevSignIn` (``make serve`` and the browser tests only, installed by the local host):
  ``GET signin?role=admin|reader|none`` signs in a development principal at once.
- :class:`EntraSignIn` (the Function App): OpenID Connect with Entra ID, ``response_type=id_token``
  and ``response_mode=form_post``; the posted ID token is checked by a :class:`TokenValidator`
  (signature against the tenant's keys, ``aud`` = the console's client id, ``iss``, ``exp``,
  ``nonce``). App roles arrive in the token's ``roles`` claim. App Service Authentication is not
  used: the Flex Consumption plan does not support it (unauthenticated callers are not blocked),
  so an ``X-MS-CLIENT-PRINCIPAL`` header could be forged and is never read.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from shared.console.session import ADMIN_ROLE, COOKIE, READER_ROLE, Principal, SessionCodec
from shared.console.web import WebRequest, WebResponse, set_cookie
from shared.errors import AuthenticationFailed

BASE = "/api/console"
NONCE_COOKIE = "exsync_console_nonce"


class SignIn(Protocol):
    """Answers ``GET`` and ``POST`` on ``/api/console/signin``."""

    async def handle(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse: ...


class TokenValidator(Protocol):
    """Validates an Entra ID token and returns its claims, or raises AuthenticationFailed."""

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


@dataclasses.dataclass(frozen=True)
class EntraSignIn:
    """OpenID Connect sign-in with Entra ID (the console's own app registration)."""

    tenant_id: str
    client_id: str
    validator: TokenValidator | None
    authority: str = "https://login.microsoftonline.com"

    async def handle(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse:
        if self.validator is None:
            return WebResponse(503, b"console sign-in needs the Entra token validator (shared.auth); "
                                    b"see docs/console.md, Sign-in", "text/plain")
        if req.method.upper() == "POST":
            return await self._finish(req, codec, now)
        return self._start(req, codec)

    def _start(self, req: WebRequest, codec: SessionCodec) -> WebResponse:
        nonce, state = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        pending = json.dumps({"nonce": nonce, "state": state, "to": _return_to(req.query.get("return_to"))})
        value = codec.sign(pending)
        query = urlencode({"client_id": self.client_id, "response_type": "id_token", "response_mode": "form_post",
                           "redirect_uri": f"{req.origin}{BASE}/signin", "scope": "openid profile",
                           "nonce": nonce, "state": state})
        cookie = set_cookie(NONCE_COOKIE, value, secure=True, max_age=600, same_site="None")
        authorize = f"{self.authority}/{self.tenant_id}/oauth2/v2.0/authorize?{query}"
        return WebResponse(302, headers={"Location": authorize}, cookies=(cookie,))

    async def _finish(self, req: WebRequest, codec: SessionCodec, now: datetime) -> WebResponse:
        assert self.validator is not None
        pending_text = codec.unsign(req.cookie(NONCE_COOKIE))
        form = {k: v[0] for k, v in req.form().items()}
        if pending_text is None:
            return WebResponse(400, b"sign-in expired or was started elsewhere; open the console again", "text/plain")
        pending = json.loads(pending_text)
        if form.get("state") != pending["state"] or not form.get("id_token"):
            return WebResponse(400, b"sign-in answer does not match this browser; open the console again",
                               "text/plain")
        try:
            claims = await self.validator.claims(form["id_token"], audience=self.client_id, nonce=pending["nonce"])
        except AuthenticationFailed as exc:
            return WebResponse(401, f"sign-in refused: {exc}".encode(), "text/plain")
        roles = frozenset(str(r) for r in claims.get("roles") or [])
        name = str(claims.get("name") or claims.get("preferred_username") or claims.get("oid") or "unknown")
        principal = Principal(name, str(claims.get("oid") or ""), roles)
        return session_response(principal, req, codec, now, pending["to"])
