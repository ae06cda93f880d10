"""Entra sign-in through the TokenValidator interface: state and nonce bound to the browser, roles
taken from the validated token only, no open redirect."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from shared.console.session import ADMIN_ROLE, COOKIE, SessionCodec
from shared.console.signin import NONCE_COOKIE, EntraSignIn
from shared.console.web import WebRequest, WebResponse
from shared.errors import NotAuthenticated

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
URL = "https://exsync.example.net/console/signin"
CODEC = SessionCodec(b"s" * 32)


class FakeValidator:
    """Stands in for the Entra validator: accepts one token, checks the nonce it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    async def claims(self, token: str, *, audience: str, nonce: str) -> Mapping[str, Any]:
        self.calls.append((token, audience, nonce))
        if token != "good":
            raise NotAuthenticated("signature does not verify")
        return {"name": "Ada", "oid": "oid-1", "roles": [ADMIN_ROLE], "nonce": nonce}


def _cookie(resp: WebResponse, name: str) -> str:
    return next(c.split(";")[0].split("=", 1)[1] for c in resp.cookies if c.startswith(name + "="))


async def _start(signin: EntraSignIn, return_to: str) -> tuple[WebResponse, dict[str, list[str]]]:
    resp = await signin.handle(WebRequest("GET", URL, "signin", {"return_to": return_to}), CODEC, NOW)
    return resp, parse_qs(urlsplit(resp.headers["Location"]).query)


async def test_the_posted_id_token_becomes_a_session_with_its_roles() -> None:
    validator = FakeValidator()
    signin = EntraSignIn("tenant-1", "client-1", validator)
    start, query = await _start(signin, "/console/sync")
    assert start.status == 302 and start.headers["Location"].startswith(
        "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/authorize?")
    assert query["response_mode"] == ["form_post"] and query["redirect_uri"] == [URL]
    body = urlencode({"id_token": "good", "state": query["state"][0]}).encode()
    headers = {"Cookie": f"{NONCE_COOKIE}={_cookie(start, NONCE_COOKIE)}"}
    done = await signin.handle(WebRequest("POST", URL, "signin", {}, headers, body), CODEC, NOW)
    assert done.status == 303 and done.headers["Location"] == "/console/sync"
    assert validator.calls == [("good", "client-1", query["nonce"][0])]
    principal = CODEC.decode(_cookie(done, COOKIE), NOW)
    assert principal is not None and principal.can_change and principal.name == "Ada"


async def test_a_wrong_state_a_bad_token_or_no_validator_is_refused() -> None:
    validator = FakeValidator()
    signin = EntraSignIn("tenant-1", "client-1", validator)
    start, query = await _start(signin, "https://evil.example/")
    cookie = {"Cookie": f"{NONCE_COOKIE}={_cookie(start, NONCE_COOKIE)}"}
    wrong = urlencode({"id_token": "good", "state": "other"}).encode()
    assert (await signin.handle(WebRequest("POST", URL, "signin", {}, cookie, wrong), CODEC, NOW)).status == 400
    bad = urlencode({"id_token": "forged", "state": query["state"][0]}).encode()
    assert (await signin.handle(WebRequest("POST", URL, "signin", {}, cookie, bad), CODEC, NOW)).status == 401
    good = urlencode({"id_token": "good", "state": query["state"][0]}).encode()
    done = await signin.handle(WebRequest("POST", URL, "signin", {}, cookie, good), CODEC, NOW)
    assert done.headers["Location"] == "/console/health"   # never an outside address
    assert any(c.startswith(f"{NONCE_COOKIE}=;") and "Max-Age=0" in c for c in done.cookies)   # spent
    late = await signin.handle(WebRequest("POST", URL, "signin", {}, cookie, good), CODEC, NOW + timedelta(minutes=11))
    assert late.status == 400 and b"too long ago" in late.body
    cancelled = urlencode({"error": "access_denied", "error_description": "AADSTS65004: declined",
                           "state": query["state"][0]}).encode()
    answer = await signin.handle(WebRequest("POST", URL, "signin", {}, cookie, cancelled), CODEC, NOW)
    assert answer.status == 400 and b"AADSTS65004" in answer.body


async def test_a_token_without_a_console_role_gets_the_no_role_page_and_no_session() -> None:
    class NoRole(FakeValidator):
        async def claims(self, token: str, *, audience: str, nonce: str) -> Mapping[str, Any]:
            return {**await super().claims(token, audience=audience, nonce=nonce), "roles": []}

    signin = EntraSignIn("tenant-1", "client-1", NoRole())
    start, query = await _start(signin, "/console/sync")
    body = urlencode({"id_token": "good", "state": query["state"][0]}).encode()
    headers = {"Cookie": f"{NONCE_COOKIE}={_cookie(start, NONCE_COOKIE)}"}
    done = await signin.handle(WebRequest("POST", URL, "signin", {}, headers, body), CODEC, NOW)
    assert done.status == 403 and b"Exsync.Reader" in done.body
    assert not [c for c in done.cookies if c.startswith(f"{COOKIE}=")]
