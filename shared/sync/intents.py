"""Resolving create intents a crashed run left behind.

An intent row is written before every create. If the run dies between the create and its link,
the next run finds the created item by its stamp (mailbox: the ERP id; ERP: the ``origin`` key)
and links it; it never creates again. An intent whose create never happened is dropped: its
source item is listed again (its cursor was not advanced) and planned afresh. A created copy
whose source vanished meanwhile is deleted again (nobody has seen it), so nothing comes back.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.domain.status import LogLevel
from shared.errors import ExsyncError, NotFound
from shared.ports import ErpItem, ErpWrite, Intent, MailboxItem, MailboxWrite, Side, WriteKind
from shared.sync.context import TypeContext
from shared.sync.execute import save_link
from shared.sync.pairing import mailbox_get

logger = logging.getLogger(__name__)


async def resolve_intents(ctx: TypeContext) -> int:
    """Resolve every open intent of the type; returns how many were linked."""
    linked = 0
    listed = ctx.open_intents if ctx.open_intents is not None else await ctx.state.list_intents(ctx.email,
                                                                                                 ctx.record_type)
    for intent in listed:
        if intent.target is Side.MAILBOX:
            linked += await _resolve_mailbox(ctx, intent)
        else:
            linked += await _resolve_erp(ctx, intent)
        await ctx.state.delete_intent(intent)
        if ctx.intent_flag is not None:
            ctx.intent_flag.closed([intent])
    if linked:
        ctx.log.add(LogLevel.INFORMATIONAL, f"{ctx.record_type}: linked {linked} item(s) created by an "
                    "interrupted run", ctx.record_type)
    return linked


async def _find_stamped(ctx: TypeContext, stamp: str) -> MailboxItem[Any] | None:
    gateway = ctx.mailbox_gateway
    found = await gateway.find_by_stamp(ctx.email, ctx.record_type, ctx.container, stamp)
    if found is None and ctx.sent_container is not None:
        found = await gateway.find_by_stamp(ctx.email, ctx.record_type, ctx.sent_container, stamp)
    return found


async def _resolve_mailbox(ctx: TypeContext, intent: Intent) -> int:
    found = await _find_stamped(ctx, intent.stamp)
    if found is None:
        return 0
    current = await ctx.state.get_link_by_erp(ctx.email, ctx.record_type, intent.source_id)
    if current is not None and current.mailbox_id == found.id:
        return 0     # the stamped item is the one already linked: the create never happened
    holder = await ctx.state.get_link_by_mailbox(ctx.email, ctx.record_type, found.id)
    if holder is not None:
        return 0
    erp = await ctx.erp_gateway.get(ctx.record_type, intent.source_id)
    if erp is None:
        [result] = await ctx.mailbox_gateway.apply(ctx.email, [MailboxWrite(
            WriteKind.DELETE, ctx.record_type, ctx.container, item_id=found.id, etag=found.etag)])
        _raise_unless_done(result.error)
        return 0
    # The ERP side's version at copy time is unknown: an empty version plus the copied content's
    # hash makes any later ERP edit show as a change, and an unchanged record as none.
    await save_link(ctx, current, erp, found, found.record, erp_version="",
                    erp_hash=found.record.content_hash())
    return 1


async def _resolve_erp(ctx: TypeContext, intent: Intent) -> int:
    found: ErpItem[Any] | None = await ctx.erp_gateway.find_by_origin(ctx.record_type, intent.stamp)
    if found is None:
        return 0
    if await ctx.state.get_link_by_erp(ctx.email, ctx.record_type, found.id) is not None:
        return 0
    source = await mailbox_get(ctx, intent.source_id)
    if source is None:
        [erp_result] = await ctx.erp_gateway.apply([ErpWrite(WriteKind.DELETE, ctx.record_type,
                                                             item_id=found.id, version=found.version)])
        _raise_unless_done(erp_result.error)
        return 0
    old = await ctx.state.get_link_by_mailbox(ctx.email, ctx.record_type, source.id)
    await save_link(ctx, old, found, source, found.record, mailbox_version="",
                    mailbox_hash=found.record.content_hash())
    return 1


def _raise_unless_done(error: ExsyncError | None) -> None:
    """A failed clean-up keeps the intent (raised: the type stops and retries next run)."""
    if error is not None and not isinstance(error, NotFound):
        raise error
