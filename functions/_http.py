"""Conversions between ``func.HttpRequest/HttpResponse`` and the framework-free API types, and
:class:`ApiBlueprint`, the one place that puts every API route under ``/api/``.

``host.json`` sets ``routePrefix`` to ``""`` so the admin console can live at ``/console``; the API
keeps ``/api/...`` because every blueprint with API routes is an :class:`ApiBlueprint`.

Every answer carries ``X-Content-Type-Options: nosniff`` (a webhook's handshake echoes text a
stranger chose: a browser must never sniff it into markup).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared.admin.http import ApiRequest, ApiResponse, error_body

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
API_PREFIX = "api/"


class ApiBlueprint(func.Blueprint):
    """A blueprint whose HTTP routes are API routes: ``route="policies"`` is served at ``/api/policies``."""

    def route(self, route: str | None = None, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        if not route:
            raise ValueError("an API function names its route (it is served below /api/)")
        return super().route(API_PREFIX + route, *args, **kwargs)


def to_api(req: func.HttpRequest) -> ApiRequest:
    return ApiRequest(method=req.method, route_params=dict(req.route_params), query=dict(req.params),
                      headers=dict(req.headers.items()), body=req.get_body() or b"")


def to_func(resp: ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(resp.body, status_code=resp.status, headers={**resp.headers, **NOSNIFF},
                             mimetype=resp.content_type, charset="utf-8")


def setup_failed(exc: Exception) -> func.HttpResponse:
    """The app itself is misconfigured (an app setting): 500 naming the setting, not the caller's fault."""
    return to_func(ApiResponse(500, json.dumps(error_body("configuration_error", str(exc))).encode()))
