"""A local Entra-like token issuer for tests: its own RSA key pair and a JWKS endpoint.

``TokenIssuer`` serves ``/{tenant}/discovery/v2.0/keys`` on 127.0.0.1 (port 0) and signs v2
access tokens with the claims Entra puts in them; ``rotate()`` publishes a new key (the old one
stays valid, like Entra's overlap), ``stranger_token`` signs with a key the JWKS never shows.

Its ``/{tenant}/oauth2/v2.0/authorize`` answers an OpenID Connect sign-in
(``response_type=id_token``, ``response_mode=form_post``) like Entra: it signs in the user set with
``sign_in_as`` at once and posts the ID token and ``state`` back to ``redirect_uri`` with a
self-submitting form.
"""

from __future__ import annotations

import html
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SCOPE = "access_as_user"


def _key() -> tuple[str, rsa.RSAPrivateKey]:
    return uuid.uuid4().hex[:16], rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TokenIssuer:
    """Signs tokens for ``TENANT`` and serves their keys; start with ``await start()``."""

    def __init__(self, tenant: str = TENANT) -> None:
        self.tenant = tenant
        self.keys: list[tuple[str, rsa.RSAPrivateKey]] = [_key()]
        self.key_requests = 0
        self.authorize_requests: list[dict[str, str]] = []
        self._next_sign_in: tuple[str, bool, dict[str, Any]] = ("ann@contoso.test", False, {})
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def authority(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.authority}/{self.tenant}/v2.0"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._jwks)
        app.router.add_get("/{tenant}/oauth2/v2.0/authorize", self._authorize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _jwks(self, request: web.Request) -> web.Response:
        self.key_requests += 1
        if request.match_info["tenant"] != self.tenant:
            return web.json_response({"error": "invalid_tenant"}, status=400)
        keys = []
        for kid, private in self.keys:
            jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": keys})

    def sign_in_as(self, user: str, *, roles: list[str] | None = None, stranger: bool = False,
                   **overrides: Any) -> None:
        """Who the next sign-ins are: their app roles (None: no roles claim), claim overrides, and
        ``stranger``: signed by a key the JWKS never publishes."""
        self._next_sign_in = (user, stranger, {"roles": roles, **overrides})

    async def _authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorize_requests.append(query)
        if request.match_info["tenant"] != self.tenant:
            return web.Response(status=400, text="AADSTS90002: tenant not found")
        if (query.get("response_type"), query.get("response_mode")) != ("id_token", "form_post"):
            return web.Response(status=400, text="AADSTS700054: response_type 'id_token' with form_post expected")
        if "openid" not in query.get("scope", "").split() or not query.get("nonce") or not query.get("redirect_uri"):
            return web.Response(status=400, text="AADSTS900144: scope openid, a nonce and redirect_uri are required")
        user, stranger, overrides = self._next_sign_in
        claims = {"aud": query.get("client_id"), "nonce": query["nonce"], "scp": None, **overrides}
        token = self.stranger_token(user, **claims) if stranger else self.token(user, **claims)
        fields = {"id_token": token, "state": query.get("state", "")}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items())
        page = (f'<!doctype html><html><body><form method="post" action="{html.escape(query["redirect_uri"])}">'
                f"{inputs}</form><script>document.forms[0].submit()</script></body></html>")
        return web.Response(text=page, content_type="text/html")

    def rotate(self) -> None:
        self.keys.append(_key())

    def claims(self, user: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"aud": CLIENT_ID, "iss": self.issuer, "tid": self.tenant, "ver": "2.0", "scp": SCOPE,
                "iat": now, "nbf": now, "exp": now + 3600, "oid": str(uuid.uuid5(uuid.NAMESPACE_DNS, user)),
                "preferred_username": user, "name": user.split("@")[0].title()}
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, user: str, *, key_index: int = -1, **overrides: Any) -> str:
        kid, private = self.keys[key_index]
        return jwt.encode(self.claims(user, **overrides), private, algorithm="RS256", headers={"kid": kid})

    def stranger_token(self, user: str, **overrides: Any) -> str:
        """Signed by a key the JWKS never publishes (same kid as the current key, or a new one)."""
        kid, _ = _key()
        _, private = _key()
        return jwt.encode(self.claims(user, **overrides), private, algorithm="RS256", headers={"kid": kid})

    def forged_token(self, user: str) -> str:
        """Claims fine, kid known, but signed with another private key."""
        kid, _ = self.keys[-1]
        _, private = _key()
        return jwt.encode(self.claims(user), private, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
async def issuer() -> AsyncIterator[TokenIssuer]:
    """A started issuer on loopback for one test (import it into a test module to use it)."""
    issuer = TokenIssuer()
    await issuer.start()
    try:
        yield issuer
    finally:
        await issuer.stop()
