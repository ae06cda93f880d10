"""Schedule blueprint: the timer (``%EXSYNC_SCHEDULE%``) that fans due mailboxes out to the queue."""

from __future__ import annotations

import logging

import azure.functions as func

from functions._runtime import get_runtime
from shared.admin.schedule import fan_out
from shared.mailproc import intake
from shared.mailsend import pickup

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name(name="schedule")
@bp.timer_trigger(schedule="%EXSYNC_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def schedule(timer: func.TimerRequest) -> None:
    if timer.past_due:
        logger.info("schedule tick is past due; fanning out now")
    await fan_out(await get_runtime())
    await intake.fan_out(await get_runtime())  # system mailboxes: the Inbox delta catches lost notifications
    await pickup.fan_out(await get_runtime())  # system mailboxes: the ERP mail queued for them
