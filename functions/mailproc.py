"""System-mailbox blueprint: the queue trigger that runs one system mailbox's incoming processing."""

from __future__ import annotations

import logging

import azure.functions as func

from functions._runtime import get_runtime
from shared.admin.queue import SyncRequest
from shared.errors import ValidationFailed
from shared.mailproc.intake import inbox_queue, process_inbox

logger = logging.getLogger(__name__)

bp = func.Blueprint()
RETRY_BUSY_SECONDS = 5  # mail should land within seconds; the lease holder finishes quickly


@bp.function_name(name="system_mailbox_worker")
@bp.queue_trigger(arg_name="msg", queue_name="%EXSYNC_SYNC_QUEUE%-inbox", connection="AzureWebJobsStorage")
async def system_mailbox_worker(msg: func.QueueMessage) -> None:
    try:
        request = SyncRequest.decode(msg.get_body())
    except ValidationFailed as exc:
        logger.error("unreadable system mailbox message %s dropped: %s", msg.id, exc)
        return
    runtime = await get_runtime()
    report = await process_inbox(runtime, request.mailbox, owner=msg.id or None)
    if report.state == "busy" and request.deferrals < 3:
        # another worker holds the mailbox: look again shortly (what it reads may predate this message)
        await inbox_queue(runtime).send(SyncRequest(request.mailbox, request.run_id, request.reason, None,
                                                    request.deferrals + 1), RETRY_BUSY_SECONDS)
