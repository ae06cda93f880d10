"""One side of one record type as a pass sees it (vdirsyncer's ``_StorageInfo`` idea).

The ERP pass and the mailbox pass are the same loop -- list changes page by page, pair, plan,
execute, save the cursor, sweep the links after a full listing -- over different gateways.
:class:`SideView` is what differs, so :mod:`shared.sync.run` writes each step once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from shared.ports import ErpItem, Link, Page, Removed, RoutedChange, Side
from shared.sync import names
from shared.sync.context import TypeContext
from shared.sync.feed import REMOVED_VERSION
from shared.sync.pairing import linked_page, pair_erp_entry, pair_mailbox_entry
from shared.sync.plan import Pair
from shared.sync.scope import in_scope, scope_known


@dataclasses.dataclass(frozen=True, slots=True)
class SideView:
    """How a pass reads one side: its cursor, its pages, how its entries pair, which ids exist."""

    side: Side
    cursor_name: str
    list_page: Callable[[str | None, bool], Awaitable[Page[Any]]]
    """``(cursor, first page of the listing)`` -> the next page of changes."""
    read_page: Callable[[Sequence[Any]], Awaitable[tuple[list[Any], dict[str, Link]]]]
    """A page's entries as pairing needs them, with their links read together (by this side's id)."""
    pair: Callable[[Any, Mapping[str, Link] | None], Awaitable[Pair]]
    """``(entry, the page's links or None to read the entry's)`` -> its pair."""
    existing: Callable[[Sequence[str]], Awaitable[set[str]]]
    link_id: Callable[[Link], str]

    def removed(self, link: Link) -> Removed:
        return Removed(self.link_id(link))


def erp_view(ctx: TypeContext) -> SideView:
    async def page(cursor: str | None, first: bool) -> Page[Any]:
        removed = ctx.push_removed if first else ()  # the ERP's push removals go to the first page
        return await ctx.erp_gateway.list_changes(ctx.record_type, ctx.scope, cursor, ctx.page_size, removed)

    async def existing(ids: Sequence[str]) -> set[str]:
        return await ctx.erp_gateway.existing_ids(ctx.record_type, ctx.scope, ids)

    async def read(entries: Sequence[Any]) -> tuple[list[Any], dict[str, Link]]:
        return list(entries), await ctx.state.get_links(ctx.email, ctx.record_type, Side.ERP,
                                                        [e.id for e in entries])

    async def pair(entry: Any, links: Mapping[str, Link] | None) -> Pair:
        return await pair_erp_entry(ctx, entry, links)

    return SideView(Side.ERP, names.erp_cursor(ctx.record_type), page, read, pair, existing,
                    lambda link: link.erp_id)


def mailbox_view(ctx: TypeContext) -> SideView:
    async def page(cursor: str | None, first: bool) -> Page[Any]:
        return await ctx.mailbox_gateway.list_changes(ctx.email, ctx.record_type, ctx.container, cursor,
                                                      ctx.page_size, stamps=False)

    async def existing(ids: Sequence[str]) -> set[str]:
        return await ctx.mailbox_gateway.existing_ids(ctx.email, ctx.record_type, ctx.container, list(ids))

    async def read(entries: Sequence[Any]) -> tuple[list[Any], dict[str, Link]]:
        return await linked_page(ctx, entries)   # stamps read only for unlinked items

    async def pair(entry: Any, links: Mapping[str, Link] | None) -> Pair:
        return await pair_mailbox_entry(ctx, entry, links)

    return SideView(Side.MAILBOX, names.mailbox_cursor(ctx.record_type), page, read, pair, existing,
                    lambda link: link.mailbox_id)


async def routed_page(ctx: TypeContext, changes: Sequence[RoutedChange], removed: Sequence[str] = ()
                      ) -> tuple[list[ErpItem[Any] | Removed], dict[str, Link]]:
    """A page of routed changes (and push removals) as the ERP pass pairs them, with their links.

    A change whose version the link already holds (the mailbox's own write coming back, or one
    recorded before) is left out without asking the ERP; the others are read together
    (``get_many``, then the scope rules). A record that is gone, or outside the mailbox's scope, becomes ``Removed``
    (pairing tells the two apart, and ignores it when nothing is linked).
    """
    links = await ctx.state.get_links(ctx.email, ctx.record_type, Side.ERP,
                                      list(dict.fromkeys([*removed, *(c.erp_id for c in changes)])))
    entries: list[ErpItem[Any] | Removed] = [Removed(i) for i in dict.fromkeys(removed)]
    stale = [c.erp_id for c in changes if not _recorded(c, links.get(c.erp_id))]
    found = await _in_scope(ctx, await ctx.erp_gateway.get_many(ctx.record_type, stale)) if stale else {}
    entries += [found.get(erp_id) or Removed(erp_id) for erp_id in stale]
    return entries, links


async def _in_scope(ctx: TypeContext, found: dict[str, ErpItem[Any]]) -> dict[str, ErpItem[Any]]:
    """The records the mailbox's scope sees (the ERP judges a scope the rules cannot decide)."""
    if scope_known(ctx.record_type, ctx.scope):
        return {i: item for i, item in found.items() if in_scope(ctx.record_type, item, ctx.scope)}
    seen = await ctx.erp_gateway.existing_ids(ctx.record_type, ctx.scope, list(found)) if found else set()
    return {i: item for i, item in found.items() if i in seen}


def _recorded(change: RoutedChange, link: Link | None) -> bool:
    """Nothing to read: the link holds the routed version, or a deletion of nothing linked."""
    if change.version == REMOVED_VERSION:
        return link is None
    return link is not None and link.erp_version == change.version
