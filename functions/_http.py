"""Conversions between ``func.HttpRequest/HttpResponse`` and the framework-free API types."""

from __future__ import annotations

import azure.functions as func

from shared.admin.http import ApiRequest, ApiResponse


def to_api(req: func.HttpRequest) -> ApiRequest:
    return ApiRequest(method=req.method, route_params=dict(req.route_params), query=dict(req.params),
                      headers=dict(req.headers.items()), body=req.get_body() or b"")


def to_func(resp: ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(resp.body, status_code=resp.status, headers=dict(resp.headers),
                             mimetype=resp.content_type, charset="utf-8")
