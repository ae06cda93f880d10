"""Worker blueprint: the queue trigger that syncs one mailbox, and the poison-queue handler."""

from __future__ import annotations

import logging

import azure.functions as func

from functions._runtime import get_runtime
from shared.admin.queue import SyncRequest
from shared.admin.worker import handle_poison, process
from shared.errors import ValidationFailed

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name(name="sync_worker")
@bp.queue_trigger(arg_name="msg", queue_name="%EXSYNC_SYNC_QUEUE%", connection="AzureWebJobsStorage")
async def sync_worker(msg: func.QueueMessage) -> None:
    try:
        request = SyncRequest.decode(msg.get_body())
    except ValidationFailed as exc:
        logger.error("unreadable sync message %s dropped: %s", msg.id, exc)
        return
    await process(await get_runtime(), request, owner=msg.id or None)


@bp.function_name(name="sync_poison")
@bp.queue_trigger(arg_name="msg", queue_name="%EXSYNC_SYNC_QUEUE%-poison", connection="AzureWebJobsStorage")
async def sync_poison(msg: func.QueueMessage) -> None:
    await handle_poison(await get_runtime(), msg.get_body())
