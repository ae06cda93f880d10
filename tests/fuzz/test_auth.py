"""Every keyed HTTP route of the app refuses a request without, or with a wrong, function key (401),
for every method it serves; derived from the app's functions, so a new route is covered by itself."""

from __future__ import annotations

import httpx
import pytest

from tests.fuzz.conftest import LiveHost
from tests.fuzz.routes import http_routes

KEYED = [(r, m) for r in http_routes() if not r.anonymous for m in r.methods]


@pytest.mark.parametrize(("route", "method"), KEYED, ids=[f"{m} {r.template}" for r, m in KEYED])
def test_keyed_route_refuses_missing_and_wrong_keys(live_host: LiveHost, route: object, method: str) -> None:
    path = f"{live_host.api}/{route.path()}"  # type: ignore[attr-defined]
    with httpx.Client(timeout=10) as client:
        for headers, params in (({}, {}), ({"x-functions-key": "wrong"}, {}), ({}, {"code": "wrong"}),
                                ({"x-functions-key": ""}, {})):
            resp = client.request(method, path, headers=headers, params=params, json={})
            assert resp.status_code == 401, (method, path, headers, params, resp.text)


def test_a_method_a_route_does_not_serve_is_405_naming_the_allowed_ones(live_host: LiveHost) -> None:
    resp = httpx.patch(f"{live_host.api}/policies", headers={"x-functions-key": live_host.key}, timeout=10)
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, POST"
    assert set(resp.json()) == {"error", "message", "fields"}
