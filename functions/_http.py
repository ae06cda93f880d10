"""Conversions between ``func.HttpRequest/HttpResponse`` and the framework-free API types."""

from __future__ import annotations

import json

import azure.functions as func

from shared.admin.http import ApiRequest, ApiResponse


def to_api(req: func.HttpRequest) -> ApiRequest:
    return ApiRequest(method=req.method, route_params=dict(req.route_params), query=dict(req.params),
                      headers=dict(req.headers.items()), body=req.get_body() or b"")


def to_func(resp: ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(resp.body, status_code=resp.status, headers=dict(resp.headers),
                             mimetype=resp.content_type, charset="utf-8")


def setup_failed(exc: Exception) -> func.HttpResponse:
    """The app itself is misconfigured (an app setting): 500 naming the setting, not the caller's fault."""
    body = json.dumps({"error": "configuration_error", "message": str(exc)})
    return func.HttpResponse(body, status_code=500, mimetype="application/json", charset="utf-8")
