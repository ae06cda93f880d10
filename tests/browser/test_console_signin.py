"""The console's production sign-in end to end in headless Chromium: the Function App's own Entra
OpenID Connect sign-in (``EXSYNC_CONSOLE_*`` settings, no development admin) against a local token
issuer with its own key pair, JWKS and authorize endpoint, which posts the ID token back.

Every bad token is refused with a page naming the claim and leaves no session; the app roles of
the token decide between administrator and reader.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.console.session import ADMIN_ROLE, COOKIE, READER_ROLE
from tests.addin.issuer import CLIENT_ID, TokenIssuer
from tests.browser.console_stack import ConsoleStack, console_stack
from tests.browser.test_console import shot

pytestmark = pytest.mark.timeout(180)

USER = "ann@contoso.test"


@pytest.fixture(scope="module")
def stack() -> Iterator[ConsoleStack]:
    with console_stack(TokenIssuer()) as s:
        yield s


@pytest.fixture
def issuer(stack: ConsoleStack) -> TokenIssuer:
    assert stack.issuer is not None
    return stack.issuer


def _posted_back(response: Any) -> bool:
    return bool(response.request.method == "POST" and urlsplit(response.url).path.endswith("/console/signin"))


def open_console(page: Any, stack: ConsoleStack, path: str = "health") -> Any:
    """Open a console page without a session: through Entra's authorize endpoint and back.
    Returns the response to the posted ID token."""
    with page.expect_response(_posted_back) as posted:
        page.goto(f"{stack.console}/{path}", wait_until="commit")   # the issuer page posts on at once
    page.wait_for_selector("h1")
    return posted.value


def session_cookies(page: Any) -> list[str]:
    return [c["name"] for c in page.context.cookies() if c["name"] == COOKIE]


def test_an_admin_signs_in_through_entra_and_may_change(page: Any, stack: ConsoleStack,
                                                        issuer: TokenIssuer) -> None:
    issuer.sign_in_as(USER, roles=[ADMIN_ROLE], name="Ann Admin")
    answer = open_console(page, stack, "policies/new")
    assert answer.status == 303
    assert page.inner_text("h1") == "New policy" and "Ann Admin (administrator)" in page.inner_text("header")
    sent = issuer.authorize_requests[-1]
    assert (sent["client_id"], sent["response_type"], sent["response_mode"]) == (CLIENT_ID, "id_token", "form_post")
    assert sent["redirect_uri"] == f"{stack.console}/signin" and "openid" in sent["scope"].split()
    page.fill("#f-name", "entra-made")
    page.click("button:text('Save')")
    page.wait_for_selector("p.notice:text('Created.')")
    with stack.api() as api:
        assert api.get("/policies/entra-made").status_code == 200


def test_a_reader_signs_in_and_changes_nothing(page: Any, stack: ConsoleStack, issuer: TokenIssuer) -> None:
    issuer.sign_in_as("rita@contoso.test", roles=[READER_ROLE], name="Rita Reader")
    assert open_console(page, stack, "policies/new").status == 303
    assert "Rita Reader (reader)" in page.inner_text("header")
    assert page.locator("button:text('Save')").count() == 0
    token = str(page.get_attribute('meta[name="csrf-token"]', "content"))
    refused = page.request.post(f"{stack.console}/policies", form={"name": "by-reader", "csrf": token})
    assert refused.status == 403 and "Read only" in refused.text()
    with stack.api() as api:
        assert api.get("/policies/by-reader").status_code == 404


REFUSED = {
    "wrong nonce": ({"nonce": "a-nonce-of-another-sign-in"}, 401, "(nonce)"),
    "wrong audience": ({"aud": "00000003-0000-0000-c000-000000000000"}, 401, "(aud)"),
    "expired": ({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200,
                 "iat": int(time.time()) - 7200}, 401, "(exp)"),
    "unknown key": ({"stranger": True}, 401, "(kid)"),
    "no role": ({"roles": None}, 403, "Exsync.Admin"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_bad_id_token_is_refused_and_leaves_no_session(page: Any, stack: ConsoleStack, issuer: TokenIssuer,
                                                         case: str) -> None:
    overrides, status, said = REFUSED[case]
    issuer.sign_in_as(USER, **{"roles": [ADMIN_ROLE], **overrides})
    answer = open_console(page, stack)
    assert answer.status == status
    assert said in page.inner_text("#signin-message")
    assert session_cookies(page) == []
    if case == "no role":
        shot(page, "signin-no-role")
    # the refusal page offers a fresh attempt: with a good token it now succeeds
    issuer.sign_in_as(USER, roles=[ADMIN_ROLE])
    with page.expect_response(_posted_back) as posted:
        page.click("a:text('Sign in again')")
    assert posted.value.status == 303
    page.wait_for_selector("h1:text('Health')")
    assert session_cookies(page) == [COOKIE]


def test_a_posted_token_without_this_browsers_attempt_is_refused(page: Any, stack: ConsoleStack,
                                                                 issuer: TokenIssuer) -> None:
    """An ID token injected into another browser (no attempt cookie) never becomes a session."""
    issuer.sign_in_as(USER, roles=[ADMIN_ROLE])
    start = page.request.get(f"{stack.console}/signin", max_redirects=0)
    nonce = parse_qs(urlsplit(start.headers["location"]).query)["nonce"][0]
    token = issuer.token(USER, aud=CLIENT_ID, nonce=nonce, roles=[ADMIN_ROLE], scp=None)
    page.context.clear_cookies()
    answer = page.request.post(f"{stack.console}/signin", form={"id_token": token, "state": "guessed"})
    assert answer.status == 400 and "another browser" in answer.text()
    assert session_cookies(page) == []
