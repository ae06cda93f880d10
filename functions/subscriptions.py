"""Subscription keeper blueprint: a timer keeping one Graph subscription per synced folder alive."""

from __future__ import annotations

import azure.functions as func

from functions._runtime import get_runtime
from shared.admin.subscriptions import keep_with_graph

bp = func.Blueprint()


@bp.function_name(name="subscription_keeper")
@bp.timer_trigger(schedule="0 */30 * * * *", arg_name="timer", run_on_startup=False)
async def subscription_keeper(timer: func.TimerRequest) -> None:
    await keep_with_graph(await get_runtime())
