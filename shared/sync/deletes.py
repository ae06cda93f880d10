"""Deletions and the mass-deletion guard.

Deletes planned during a type's passes are queued (:class:`~shared.sync.execute.DeleteOrder`)
and run here at the end of the type. If one side would lose more than
``server.mass_delete_threshold`` of a non-trivial set (at least :data:`MIN_GUARDED_SET` linked
items), nothing is deleted on that side, a :class:`~shared.errors.MassDeleteBlocked` warning is
raised to the run, and the cursors that saw the deletions stay where they were: the next run sees
them again, until an admin restores the items or accepts the deletion (see docs/sync-rules.md).
"""

from __future__ import annotations

import logging

from shared.domain.status import LogLevel
from shared.errors import ExsyncError, MassDeleteBlocked, NotFound
from shared.ports import ErpWrite, MailboxWrite, Side, WriteKind
from shared.sync.context import TypeContext, describe
from shared.sync.execute import DeleteOrder

logger = logging.getLogger(__name__)

MIN_GUARDED_SET = 10
"""Sets smaller than this are trivial: deleting most of four contacts is no accident to stop."""


async def count_links(ctx: TypeContext) -> int:
    """How many pairs the mailbox has of this type (paged; ids are not kept)."""
    total, cursor = 0, None
    while True:
        page = await ctx.state.list_links(ctx.email, ctx.record_type, cursor, 1000)
        total += len(page.items)
        if page.complete or page.cursor is None:
            return total
        cursor = page.cursor


def guard(ctx: TypeContext, side: Side, deletes: int, linked: int) -> MassDeleteBlocked | None:
    """The guard's verdict for one side."""
    if linked < MIN_GUARDED_SET or deletes <= ctx.server.mass_delete_threshold * linked:
        return None
    return MassDeleteBlocked(
        f"{ctx.record_type} sync would delete {deletes} of {linked} items in the {side}; nothing was "
        f"deleted. If the deletions are intended, raise the server's mass_delete_threshold for one run.")


async def run_deletes(ctx: TypeContext) -> set[Side]:
    """Run the queued deletions under the guard; returns the passes whose deletions did not all happen."""
    orders, ctx.pending_deletes = list(ctx.pending_deletes), []
    if not orders:
        return set()
    linked = await count_links(ctx)
    incomplete: set[Side] = set()
    for side in (Side.MAILBOX, Side.ERP):
        mine = [o for o in orders if o.side is side]
        if not mine:
            continue
        blocked = guard(ctx, side, len(mine), linked)
        if blocked is not None:
            ctx.warnings.append(str(blocked))
            ctx.log.add(LogLevel.WARNING, str(blocked), ctx.record_type)
            ctx.count(side, "skipped", len(mine))
            incomplete |= {o.source_pass for o in mine}
            continue
        for start in range(0, len(mine), ctx.batch_size):
            incomplete |= await _delete_batch(ctx, side, mine[start:start + ctx.batch_size])
    return incomplete


async def _delete_batch(ctx: TypeContext, side: Side, orders: list[DeleteOrder]) -> set[Side]:
    if side is Side.ERP:
        erp_results = await ctx.erp_gateway.apply([ErpWrite(WriteKind.DELETE, ctx.record_type, item_id=o.item_id,
                                                            version=o.version) for o in orders])
        errors = [r.error for r in erp_results]
    else:
        mailbox_results = await ctx.mailbox_gateway.apply(ctx.email, [MailboxWrite(
            o.kind, ctx.record_type, ctx.container, item_id=o.item_id, etag=o.version) for o in orders])
        errors = [r.error for r in mailbox_results]
    incomplete: set[Side] = set()
    for order, error in zip(orders, errors, strict=True):
        if error is not None and not isinstance(error, NotFound):
            ctx.count(side, "failed")
            ctx.log.add(LogLevel.ERROR, f"deleting {ctx.record_type} {order.item_id} in the {side} failed: "
                        f"{describe(error)}; retried next run", ctx.record_type)
            incomplete.add(order.source_pass)
            continue
        try:
            await ctx.state.delete_link(order.link)
        except ExsyncError as exc:
            ctx.count(side, "failed")
            ctx.log.add(LogLevel.ERROR, f"unlinking deleted {ctx.record_type} {order.item_id} failed: {describe(exc)}",
                        ctx.record_type)
            incomplete.add(order.source_pass)
            continue
        ctx.count(side, "deleted")
    return incomplete
