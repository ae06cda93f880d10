"""Admin API blueprint: one HTTP function per route template of :data:`shared.admin.api.ROUTES`,
plus ``GET /api/openapi.json``. Auth level FUNCTION (a function key is required)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import azure.functions as func

from functions._http import ApiBlueprint, setup_failed, to_api, to_func
from functions._runtime import get_runtime
from shared.admin.api import dispatch, routes_by_template
from shared.admin.http import ApiResponse
from shared.admin.openapi import openapi_document
from shared.errors import ConfigurationError

logger = logging.getLogger(__name__)

bp = ApiBlueprint()

HttpFn = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


def _slug(template: str) -> str:
    return "admin_" + re.sub(r"[^a-z0-9]+", "_", template.lower()).strip("_")


def _make(template: str) -> HttpFn:
    async def handle(req: func.HttpRequest) -> func.HttpResponse:
        try:
            runtime = await get_runtime()
        except ConfigurationError as exc:
            return setup_failed(exc)
        return to_func(await dispatch(runtime, template, to_api(req)))

    handle.__name__ = _slug(template)
    handle.__qualname__ = handle.__name__
    return handle


for _template, _routes in routes_by_template().items():
    _fn = _make(_template)
    bp.function_name(name=_fn.__name__)(
        bp.route(route=_template, methods=sorted({r.method for r in _routes}),
                 auth_level=func.AuthLevel.ANONYMOUS if all(r.anonymous for r in _routes)
                 else func.AuthLevel.FUNCTION)(_fn))


@bp.function_name(name="admin_openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return to_func(ApiResponse.json(openapi_document()))
