"""Notification blueprint: Graph change/lifecycle notifications and Acumatica push notifications.

Anonymous HTTP level: Graph and Acumatica cannot send a function key header; each route checks its
own secret (clientState, the shared-secret header) in constant time.
"""

from __future__ import annotations

import azure.functions as func

from functions._http import to_api, to_func
from functions._runtime import get_runtime
from shared.admin import notifications
from shared.admin.http import error_response
from shared.errors import ExsyncError

bp = func.Blueprint()


@bp.function_name(name="graph_notifications")
@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_notifications(req: func.HttpRequest) -> func.HttpResponse:
    token = req.params.get("validationToken")
    if token is not None:  # the handshake needs nothing but the echo: answer before any set-up
        return func.HttpResponse(token, status_code=200, mimetype="text/plain", charset="utf-8")
    return to_func(await notifications.graph_notifications(await get_runtime(), to_api(req)))


@bp.function_name(name="graph_lifecycle")
@bp.route(route="graph/lifecycle", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def graph_lifecycle(req: func.HttpRequest) -> func.HttpResponse:
    return to_func(await notifications.graph_lifecycle(await get_runtime(), to_api(req)))


@bp.function_name(name="erp_notifications")
@bp.route(route="erp/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def erp_notifications(req: func.HttpRequest) -> func.HttpResponse:
    try:
        return to_func(await notifications.erp_notifications(await get_runtime(), to_api(req)))
    except ExsyncError as exc:
        return to_func(error_response(exc))
