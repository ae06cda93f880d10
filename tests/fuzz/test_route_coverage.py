"""No HTTP route escapes the suites: each keyed route is in the OpenAPI document (so schemathesis fuzzes
it; the auth test covers every keyed route by itself) and each anonymous route is a fuzzed webhook."""

from __future__ import annotations

from collections.abc import Iterable

from shared.admin.openapi import openapi_document
from tests.fuzz.routes import HttpRoute, http_routes
from tests.fuzz.test_webhooks import WEBHOOKS


def _documented() -> set[tuple[str, str]]:
    return {(path.lstrip("/"), method.upper()) for path, ops in openapi_document()["paths"].items()
            for method in ops}


def uncovered(routes: Iterable[HttpRoute], documented: set[tuple[str, str]], webhooks: Iterable[str]) -> list[str]:
    """What the author of each uncovered route must add, one line a route and method."""
    hooks = set(webhooks)
    problems = []
    for route in routes:
        if route.anonymous and route.template not in hooks:
            problems.append(f"anonymous route /api/{route.template} ({route.function}) is not fuzzed: add it to "
                            "WEBHOOKS in tests/fuzz/test_webhooks.py with a valid request and its side effect")
        for method in route.methods:
            if (route.template, method) not in documented:
                problems.append(f"{method} /api/{route.template} ({route.function}) is not in the OpenAPI document, "
                                "so the schemathesis run never calls it: add a Route to ROUTES in "
                                "shared/admin/api.py (or a path to _EXTRA_PATHS in shared/admin/openapi.py)")
    return problems


def test_every_route_is_known_to_the_auth_test_and_a_fuzz_run() -> None:
    assert uncovered(http_routes(), _documented(), WEBHOOKS) == []


def test_a_new_route_nobody_knows_is_reported_with_what_to_add() -> None:
    routes = [*http_routes(), HttpRoute("admin_reports", "reports", ("GET",), False),
              HttpRoute("hook_new", "hooks/new", ("POST",), True)]
    problems = uncovered(routes, _documented(), WEBHOOKS)
    assert len(problems) == 3
    assert "GET /api/reports (admin_reports) is not in the OpenAPI document" in problems[0]
    assert "anonymous route /api/hooks/new (hook_new) is not fuzzed: add it to WEBHOOKS" in problems[1]
