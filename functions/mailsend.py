"""Transactional-mail blueprint: the queue trigger that runs one system mailbox's sending."""

from __future__ import annotations

import logging

import azure.functions as func

from functions._runtime import get_runtime
from shared.admin.queue import SyncRequest
from shared.errors import ValidationFailed
from shared.mailsend.pickup import send_one

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name(name="system_mailbox_sender")
@bp.queue_trigger(arg_name="msg", queue_name="%EXSYNC_SYNC_QUEUE%-outbox", connection="AzureWebJobsStorage")
async def system_mailbox_sender(msg: func.QueueMessage) -> None:
    try:
        request = SyncRequest.decode(msg.get_body())
    except ValidationFailed as exc:
        logger.error("unreadable sending message %s dropped: %s", msg.id, exc)
        return
    report = await send_one(await get_runtime(), request.mailbox, owner=msg.id or None)
    if report is None:
        logger.info("sending run skipped: the mailbox does not send or another run holds it")
