"""Credentials blueprint: the daily credential check and ``GET /api/credentials/expiry``.

The timer (06:00 UTC daily) rotates Key Vault client secrets when ``EXSYNC_ROTATION_ENABLED`` is
true and they are due, then checks every credential's end date and alerts each threshold once
(log record ``exsync.credential.expiry``, mail to ``EXSYNC_ALERT_EMAILS``, webhook). The route runs
the same check on demand (``?server=<name>`` for one server; ``?notify=false`` reports without
alerting or rotating). Auth level FUNCTION.
"""

from __future__ import annotations

import logging

import azure.functions as func

from functions._http import ApiBlueprint, setup_failed, to_func
from functions._runtime import get_runtime
from shared.admin.http import ApiResponse, error_json, error_response
from shared.errors import ConfigurationError, ExsyncError

logger = logging.getLogger(__name__)

bp = ApiBlueprint()

DAILY = "0 0 6 * * *"
_FALSE = {"0", "false", "no", "off"}
NOTIFY_VALUES = ("true", "false", "1", "0", "yes", "no", "on", "off")


@bp.function_name(name="credential_check")
@bp.timer_trigger(schedule=DAILY, arg_name="timer", run_on_startup=False)
async def credential_check(timer: func.TimerRequest) -> None:
    services = (await get_runtime()).credential_services()
    result = await services.check_all(notify=True)
    logger.info("daily credential check done for %d server(s)", len(result["servers"]))


@bp.function_name(name="credential_expiry")
@bp.route(route="credentials/expiry", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def credential_expiry(req: func.HttpRequest) -> func.HttpResponse:
    notify = req.params.get("notify", "true").strip().lower()
    if notify not in NOTIFY_VALUES:
        why = f"expected one of {', '.join(NOTIFY_VALUES)}"
        return to_func(error_json(400, "validation_failed", f"notify: {why}", [{"field": "notify", "message": why}]))
    try:
        runtime = await get_runtime()
    except ConfigurationError as exc:  # e.g. no state store configured: say so instead of a bare 500
        return setup_failed(exc)
    try:
        result = await runtime.credential_services().check_all(notify=notify not in _FALSE,
                                                               server=req.params.get("server") or None)
    except ExsyncError as exc:
        logger.error("credential expiry check failed: %s", exc)
        return to_func(error_response(exc, "server"))
    return to_func(ApiResponse.json(result))
