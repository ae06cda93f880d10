"""Notification blueprint: Graph change/lifecycle notifications and Acumatica push notifications.

Anonymous HTTP level: Graph and Acumatica cannot send a function key header; each route checks its
own secret (clientState, the shared-secret header) in constant time. Whatever a stranger sends is
answered 2xx or 4xx in the one error shape (see :func:`_answer`); the app's own faults are 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import azure.functions as func

from functions._http import NOSNIFF, ApiBlueprint, setup_failed, to_api, to_func
from functions._runtime import get_runtime
from shared.admin import notifications
from shared.admin.http import ApiRequest, ApiResponse, error_response
from shared.errors import ConfigurationError, ExsyncError
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

bp = ApiBlueprint()

Handler = Callable[[Runtime, ApiRequest], Awaitable[ApiResponse]]


def _handshake(req: func.HttpRequest) -> func.HttpResponse | None:
    """Graph's subscription handshake: echo ``validationToken`` as text/plain, before any set-up."""
    token = req.params.get("validationToken")
    if token is None:
        return None
    return func.HttpResponse(token, status_code=200, mimetype="text/plain", charset="utf-8", headers=NOSNIFF)


async def _answer(handler: Handler, req: func.HttpRequest) -> func.HttpResponse:
    try:
        runtime = await get_runtime()
    except ConfigurationError as exc:
        return setup_failed(exc)
    try:
        return to_func(await handler(runtime, to_api(req)))
    except ExsyncError as exc:
        logger.info("%s refused: %s", req.url.split("?")[0].rsplit("/api/", 1)[-1], type(exc).__name__)
        return to_func(error_response(exc))


@bp.function_name(name="graph_notifications")
@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_notifications(req: func.HttpRequest) -> func.HttpResponse:
    shake = _handshake(req)
    return shake if shake is not None else await _answer(notifications.graph_notifications, req)


@bp.function_name(name="graph_lifecycle")
@bp.route(route="graph/lifecycle", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_lifecycle(req: func.HttpRequest) -> func.HttpResponse:
    shake = _handshake(req)
    return shake if shake is not None else await _answer(notifications.graph_lifecycle, req)


@bp.function_name(name="erp_notifications")
@bp.route(route="erp/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def erp_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return await _answer(notifications.erp_notifications, req)
