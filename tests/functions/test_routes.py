"""Where the HTTP functions are served: host.json has no route prefix, every API function is below
``/api/`` (an ApiBlueprint), the admin console alone at ``/console``; none collides with the
Functions host's own ``/admin`` and ``/runtime`` paths."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

import function_app
from devhost.host import ROOT, functions_of, route_prefix, route_regex
from functions._http import API_PREFIX, ApiBlueprint

RESERVED = ("admin", "runtime")   # the Functions host's own endpoints


def _routes() -> dict[str, str]:
    out = {}
    for fn in functions_of(function_app.app):
        trigger = fn.get_trigger().get_dict_repr()
        if trigger["type"] == "httpTrigger":
            out[fn.get_function_name()] = str(trigger.get("route") or fn.get_function_name())
    return out


def test_the_api_is_under_api_and_the_console_beside_it() -> None:
    assert json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"] == ""
    assert route_prefix() == ""
    routes = _routes()
    assert routes.pop("console") == "console/{*path}"
    assert len(routes) >= 10
    assert [f"{name}: {route}" for name, route in routes.items() if not route.startswith(API_PREFIX)] == []
    assert [r for r in _routes().values() if r.split("/")[0].lower() in RESERVED] == []


def test_an_api_blueprint_prefixes_its_routes_and_a_catch_all_may_be_empty() -> None:
    bp = ApiBlueprint()

    @bp.route(route="things/{name}", methods=["GET"])
    async def things(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("")

    app = func.FunctionApp()
    app.register_functions(bp)
    assert [f.get_trigger().get_dict_repr()["route"] for f in app.get_functions()] == ["api/things/{name}"]
    with pytest.raises(ValueError, match="names its route"):
        ApiBlueprint().route(methods=["GET"])
    assert route_regex("console/{*path}").match("console") is not None
    assert route_regex("console/{*path}").match("console/policies/a").groupdict() == {"path": "policies/a"}
    assert route_regex("console/{*path}").match("consoles") is None
