"""Simulator sessions: cookie login/logout, the API-user licence limit, 401, OAuth tokens."""

from __future__ import annotations

import httpx

from tests.sim_acumatica.conftest import LOGIN, E


async def _login(base_url: str) -> tuple[httpx.AsyncClient, int]:
    client = httpx.AsyncClient(base_url=base_url, timeout=30, verify=False)
    response = await client.post("/entity/auth/login", json=LOGIN)
    return client, response.status_code


async def test_request_without_session_is_401_with_http_error(anon: httpx.AsyncClient) -> None:
    response = await anon.get(f"{E}/Contact")
    assert response.status_code == 401
    body = response.json()
    assert set(body) >= {"message", "exceptionMessage", "exceptionType", "stackTrace"}


async def test_login_sets_cookies_and_logout_ends_the_session(anon: httpx.AsyncClient) -> None:
    response = await anon.post("/entity/auth/login", json=LOGIN)
    assert response.status_code == 204
    assert "ASP.NET_SessionId" in anon.cookies and ".ASPXAUTH" in anon.cookies
    assert (await anon.get(f"{E}/Contact")).status_code == 200
    assert (await anon.post("/entity/auth/logout")).status_code == 204
    assert (await anon.get(f"{E}/Contact")).status_code == 401


async def test_wrong_password_is_refused(anon: httpx.AsyncClient) -> None:
    response = await anon.post("/entity/auth/login", json={**LOGIN, "password": "nope"})
    assert response.status_code == 500
    assert "Invalid credentials" in response.json()["exceptionMessage"]


async def test_api_user_limit_and_release_by_logout(base_url: str, anon: httpx.AsyncClient) -> None:
    first, s1 = await _login(base_url)
    second, s2 = await _login(base_url)
    third, s3 = await _login(base_url)
    try:
        assert (s1, s2) == (204, 204)
        assert s3 == 429
        assert (await third.post("/entity/auth/login", json=LOGIN)).json()["exceptionMessage"] == "API Login Limit"
        assert (await first.post("/entity/auth/login", json=LOGIN)).status_code == 204  # same session: no new slot
        assert (await anon.get("/_sim/sessions")).json() == {"active": 2, "limit": 2}
        await first.post("/entity/auth/logout")
        assert (await third.post("/entity/auth/login", json=LOGIN)).status_code == 204
    finally:
        for client in (first, second, third):
            await client.post("/entity/auth/logout")
            await client.aclose()
    assert (await anon.get("/_sim/sessions")).json()["active"] == 0


async def test_oauth_password_and_refresh_grants(anon: httpx.AsyncClient) -> None:
    form = {"grant_type": "password", "client_id": "0f1e2d3c@Company", "client_secret": "s",
            "username": "admin", "password": "setup", "scope": "api offline_access"}
    tokens = (await anon.post("/identity/connect/token", data=form)).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await anon.get(f"{E}/Contact", headers=bearer)).status_code == 200
    refresh = {"grant_type": "refresh_token", "client_id": form["client_id"], "client_secret": "s",
               "refresh_token": tokens["refresh_token"]}
    renewed = await anon.post("/identity/connect/token", data=refresh)
    assert renewed.status_code == 200 and renewed.json()["access_token"] != tokens["access_token"]
    reused = await anon.post("/identity/connect/token", data=refresh)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    bad = await anon.post("/identity/connect/token", data={**form, "password": "x"})
    assert bad.status_code == 400
    assert (await anon.get(f"{E}/Contact", headers={"Authorization": "Bearer nope"})).status_code == 401
