"""Housekeeping blueprint: a daily timer for log retention, stale intents and run records."""

from __future__ import annotations

import azure.functions as func

from functions._runtime import get_runtime
from shared.admin.housekeeping import sweep

bp = func.Blueprint()


@bp.function_name(name="housekeeping")
@bp.timer_trigger(schedule="0 17 3 * * *", arg_name="timer", run_on_startup=False)
async def housekeeping(timer: func.TimerRequest) -> None:
    await sweep(await get_runtime())
