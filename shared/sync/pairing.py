"""Turn one entry of a change listing into a :class:`~shared.sync.plan.Pair` (the planner's input).

For a changed item on one side it reads the link and the other side's current item (``get``),
or, when unlinked, looks for a counterpart: by stamp (the ERP id on a mailbox item), by
internetMessageId (e-mail de-duplication), by e-mail address (contacts, "merge by email").
One page of entries is paired at a time, so memory stays bounded by the page size.

A mailbox delta page makes its ERP reads together (:class:`MailboxPage`, built by
:func:`linked_page`): one ``find_contacts_by_email`` for its merge-by-email look-ups (while Graph
reads the stamps), one ``get_many`` for the current ERP records of its changed linked items and of
its stamps, one ``get_links`` for the links of the records found. Pairing reads nothing that could
change in between, so each item pairs exactly as it would with its own reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.records import Contact, EmailMessage, Event, RecordType
from shared.ports import ErpItem, Link, MailboxItem, Removed, Side
from shared.scope import in_scope, scope_known
from shared.sync import merge
from shared.sync.context import TypeContext
from shared.sync.plan import Pair

logger = logging.getLogger(__name__)


def erp_read_only(ctx: TypeContext, erp: ErpItem[Any] | None) -> bool:
    """An event this mailbox only attends: its edits never flow back into the ERP."""
    if erp is None or not isinstance(erp.record, Event):
        return False
    organizer = erp.record.normalized().organizer
    return bool(organizer) and organizer != ctx.email


def _frozen(ctx: TypeContext, erp_id: str | None, mailbox_id: str | None) -> str | None:
    """Items a create of this run started from and did not finish: left alone until the intent
    is resolved at the start of the next run (touching them could undo or duplicate that create)."""
    if (erp_id is not None and (Side.MAILBOX, erp_id) in ctx.unresolved) or (
            mailbox_id is not None and (Side.ERP, mailbox_id) in ctx.unresolved):
        return "an unfinished create involves it"
    return None


async def mailbox_get(ctx: TypeContext, item_id: str) -> MailboxItem[Any] | None:
    """The mailbox item in the type's container (e-mails: or in Sent Items)."""
    item = await ctx.mailbox_gateway.get(ctx.email, ctx.record_type, ctx.container, item_id)
    if item is None and ctx.sent_container is not None:
        item = await ctx.mailbox_gateway.get(ctx.email, ctx.record_type, ctx.sent_container, item_id)
    return item


class MailboxPage(dict[str, Link]):
    """A delta page's links by mailbox id, with the ERP reads its pairing needs made together."""

    def __init__(self, links: Mapping[str, Link]) -> None:
        super().__init__(links)
        self.erp: dict[str, ErpItem[Any] | None] = {}
        """Current ERP records by id (None: read and missing)."""
        self.by_email: dict[str, ErpItem[Any] | None] = {}
        """Merge-by-email matches by normalized address (None: looked up, no contact)."""
        self.erp_links: dict[str, Link | None] = {}
        """Links by ERP id of the records found (None: read, unlinked)."""


def _needs_erp(ctx: TypeContext, entry: MailboxItem[Any] | Removed, link: Link | None) -> str | None:
    """The ERP id whose current record pairing ``entry`` reads, if any (mirrors
    :func:`pair_mailbox_entry`)."""
    if link is not None:
        unchanged = (isinstance(entry, MailboxItem) and not _frozen(ctx, link.erp_id, entry.id)
                     and not merge.mailbox_changed(entry, link))
        return None if unchanged else link.erp_id
    if isinstance(entry, MailboxItem) and not _frozen(ctx, None, entry.id) and entry.stamp:
        return entry.stamp
    return None


def _merge_email(ctx: TypeContext, mbx: MailboxItem[Any]) -> str:
    """The address an unlinked mailbox contact is merged by ("" when merge by e-mail does not apply)."""
    if isinstance(mbx.record, Contact) and ctx.policy.contacts.merge_by_email:
        return str(mbx.record.normalized().email)
    return ""


def _unlinked(ctx: TypeContext, entries: Sequence[MailboxItem[Any] | Removed],
              page: MailboxPage) -> list[MailboxItem[Any]]:
    """The page's unlinked items pairing looks a counterpart up for (frozen ones wait)."""
    return [e for e in entries if isinstance(e, MailboxItem) and e.id not in page and not _frozen(ctx, None, e.id)]


async def _look_up_emails(ctx: TypeContext, unlinked: Sequence[MailboxItem[Any]], page: MailboxPage) -> None:
    """The merge-by-email matches of every unlinked contact (also those whose stamp may find their
    record: the stamps are read at the same time, and an address more costs no request)."""
    emails = list(dict.fromkeys(address for e in unlinked if (address := _merge_email(ctx, e))))
    if emails:
        matches = await ctx.erp_gateway.find_contacts_by_email(emails)
        page.by_email = {address: matches.get(address.strip().lower()) for address in emails}


async def _read_erp_records(ctx: TypeContext, entries: Sequence[MailboxItem[Any] | Removed],
                            page: MailboxPage) -> None:
    """Fill ``page`` with the ERP records pairing ``entries`` reads (changed linked items, stamps) and
    the links of the counterparts found."""
    wanted = list(dict.fromkeys(erp_id for e in entries if (erp_id := _needs_erp(ctx, e, page.get(e.id)))))
    if wanted:
        found = await ctx.erp_gateway.get_many(ctx.record_type, wanted)
        page.erp = {erp_id: found.get(erp_id) for erp_id in wanted}
    unlinked = _unlinked(ctx, entries, page)
    candidates = [item.id for e in unlinked
                  if (item := (page.erp.get(e.stamp) if e.stamp else None) or page.by_email.get(_merge_email(ctx, e)))]
    if candidates:
        linked = await ctx.state.get_links(ctx.email, ctx.record_type, Side.ERP, list(dict.fromkeys(candidates)))
        page.erp_links = {erp_id: linked.get(erp_id) for erp_id in candidates}


async def _erp_current(ctx: TypeContext, erp_id: str, *, listed_removed: bool = False,
                       page: MailboxPage | None = None) -> tuple[ErpItem[Any] | None, bool]:
    """The ERP record and whether it is outside the scope. When the scope cannot be checked here
    (workgroups unknown), a record the ERP listing reported removed but that exists left the scope."""
    erp = page.erp[erp_id] if page is not None and erp_id in page.erp else await ctx.erp_gateway.get(
        ctx.record_type, erp_id)
    if erp is None:
        return None, False
    if not scope_known(ctx.record_type, ctx.scope):
        return erp, listed_removed
    return erp, not in_scope(ctx.record_type, erp, ctx.scope)


async def _organized_elsewhere(ctx: TypeContext, erp: ErpItem[Any]) -> str | None:
    """An ERP event organized by another synced mailbox reaches us as its invitation, not from us."""
    if not isinstance(erp.record, Event):
        return None
    organizer = erp.record.normalized().organizer
    if not organizer or organizer == ctx.email:
        return None
    other = await ctx.state.get_mailbox(organizer)
    if other is not None and other.value.sync:
        return "organized by another synced mailbox"
    return None


async def pair_erp_entry(ctx: TypeContext, entry: ErpItem[Any] | Removed,
                         links: Mapping[str, Link] | None = None) -> Pair:
    """Pair an entry of the ERP listing with its link and mailbox item (``links``: the page's
    links by ERP id, read together)."""
    erp_id = entry.id
    link = links.get(erp_id) if links is not None else await ctx.state.get_link_by_erp(ctx.email, ctx.record_type,
                                                                                         erp_id)
    out_of_scope = False
    erp: ErpItem[Any] | None
    if isinstance(entry, Removed):
        if link is None:
            return Pair(ctx.record_type, None, None, None)
        erp, out_of_scope = await _erp_current(ctx, erp_id, listed_removed=True)  # deleted, or out of scope?
    else:
        erp = entry
    if link is not None:
        frozen = _frozen(ctx, erp_id, link.mailbox_id)
        if erp is not None and not out_of_scope and not frozen and not merge.erp_changed(erp, link):
            return Pair(ctx.record_type, link, erp, None, other_unread=Side.MAILBOX)
        mbx = await mailbox_get(ctx, link.mailbox_id)
        return Pair(ctx.record_type, link, erp, mbx, erp_out_of_scope=out_of_scope,
                    erp_read_only=erp_read_only(ctx, erp), deferred=bool(frozen))
    assert erp is not None
    if _frozen(ctx, erp.id, None) or (erp.origin is not None and erp.origin in ctx.unresolved_stamps):
        # our own create whose link is not recorded yet: the intent links it next run
        return Pair(ctx.record_type, None, erp, None, deferred=True)
    blocked = await _organized_elsewhere(ctx, erp)
    mbx = None if blocked else await _find_mailbox_counterpart(ctx, erp)
    return Pair(ctx.record_type, None, erp, mbx, erp_read_only=erp_read_only(ctx, erp), blocked=blocked)


async def _find_mailbox_counterpart(ctx: TypeContext, erp: ErpItem[Any]) -> MailboxItem[Any] | None:
    gateway = ctx.mailbox_gateway
    found = None
    if ctx.stamps_seen is None or erp.id in ctx.stamps_seen:
        found = await gateway.find_by_stamp(ctx.email, ctx.record_type, ctx.container, erp.id)
    if found is None and ctx.sent_container is not None:
        found = await gateway.find_by_stamp(ctx.email, ctx.record_type, ctx.sent_container, erp.id)
    if found is None and isinstance(erp.record, EmailMessage) and erp.record.internet_message_id.strip():
        found = await gateway.find_message(ctx.email, erp.record.internet_message_id)
    if found is None or await _linked_mailbox(ctx, found.id) is not None:
        return None
    return found


async def _linked_mailbox(ctx: TypeContext, mailbox_id: str) -> Link | None:
    return await ctx.state.get_link_by_mailbox(ctx.email, ctx.record_type, mailbox_id)


async def linked_page(ctx: TypeContext, entries: Sequence[MailboxItem[Any] | Removed]
                      ) -> tuple[list[MailboxItem[Any] | Removed], MailboxPage]:
    """A delta page listed without stamps, with the links of its items (read together); the stamps
    of unlinked items (the only ones pairing reads) filled in one batched read. A linked item's stamp is
    its link's ERP id, so it is not read again. The page's ERP reads follow (:class:`MailboxPage`)."""
    page = MailboxPage(await ctx.state.get_links(ctx.email, ctx.record_type, Side.MAILBOX, [e.id for e in entries]))
    unknown = [e for e in entries if isinstance(e, MailboxItem) and not e.stamp_known and e.id not in page]
    # the stamps (Graph) and the e-mail look-ups (ERP) do not depend on each other: both in flight at once
    stamped, _ = await asyncio.gather(_fill_stamps(ctx, unknown), _look_up_emails(ctx, _unlinked(ctx, entries, page),
                                                                                 page))
    filled = [stamped.get(e.id, e) for e in entries]
    await _read_erp_records(ctx, filled, page)
    return filled, page


async def _fill_stamps(ctx: TypeContext, unknown: Sequence[MailboxItem[Any]]) -> dict[str, MailboxItem[Any]]:
    if not unknown:
        return {}
    filled = await ctx.mailbox_gateway.fill_stamps(ctx.email, ctx.record_type, ctx.container, list(unknown))
    return {item.id: item for item in filled}


async def pair_mailbox_entry(ctx: TypeContext, entry: MailboxItem[Any] | Removed,
                             links: Mapping[str, Link] | None = None) -> Pair:
    """Pair an entry of the mailbox delta with its link and ERP record (``links``: the page's
    links already read by :func:`linked_page`, with its ERP reads when it is a :class:`MailboxPage`)."""
    page = links if isinstance(links, MailboxPage) else None
    link = links.get(entry.id) if links is not None else await _linked_mailbox(ctx, entry.id)
    mbx: MailboxItem[Any] | None
    if isinstance(entry, Removed):
        if link is None:
            return Pair(ctx.record_type, None, None, None)
        mbx = await mailbox_get(ctx, entry.id)   # a replayed removal of a live item is no removal
    else:
        mbx = entry
    if link is not None:
        frozen = _frozen(ctx, link.erp_id, entry.id)
        if mbx is not None and not frozen and not merge.mailbox_changed(mbx, link):
            return Pair(ctx.record_type, link, None, mbx, other_unread=Side.ERP)
        erp, out_of_scope = await _erp_current(ctx, link.erp_id, page=page)
        return Pair(ctx.record_type, link, erp, mbx, erp_out_of_scope=out_of_scope,
                    erp_read_only=erp_read_only(ctx, erp), deferred=bool(frozen))
    assert mbx is not None
    if _frozen(ctx, None, mbx.id):
        return Pair(ctx.record_type, None, None, mbx, deferred=True)
    erp, blocked = await _find_erp_counterpart(ctx, mbx, page)
    if erp is not None and _frozen(ctx, erp.id, None):
        return Pair(ctx.record_type, None, None, mbx, deferred=True)
    return Pair(ctx.record_type, None, erp, mbx, erp_read_only=erp_read_only(ctx, erp), blocked=blocked)


async def _find_erp_counterpart(ctx: TypeContext, mbx: MailboxItem[Any], page: MailboxPage | None = None
                                ) -> tuple[ErpItem[Any] | None, str | None]:
    """The ERP record an unlinked mailbox item is (stamp, message id, e-mail), or why it is blocked
    (``page``: the reads its delta page made together)."""
    gateway = ctx.erp_gateway
    candidate: ErpItem[Any] | None = None
    if mbx.stamp:
        candidate = page.erp[mbx.stamp] if page is not None and mbx.stamp in page.erp else await gateway.get(
            ctx.record_type, mbx.stamp)
    record = mbx.record
    if candidate is None and isinstance(record, EmailMessage) and record.internet_message_id.strip():
        candidate = await gateway.find_email_by_message_id(record.internet_message_id)
    address = _merge_email(ctx, mbx)
    if candidate is None and address:
        candidate = page.by_email[address] if page is not None and address in page.by_email else \
            await gateway.find_contact_by_email(address)
    if candidate is None:
        return None, None
    if page is not None and candidate.id in page.erp_links:
        taken = page.erp_links[candidate.id]
    else:
        taken = await ctx.state.get_link_by_erp(ctx.email, ctx.record_type, candidate.id)
    if taken is not None:
        if mbx.stamp == candidate.id or ctx.record_type is not RecordType.CONTACT:
            return None, "its ERP record is linked to another item"
        return None, None   # an e-mail match already taken by another contact: import as new
    if candidate.id in ctx.left_scope or (scope_known(ctx.record_type, ctx.scope)
                                          and not in_scope(ctx.record_type, candidate, ctx.scope)):
        return None, "its ERP record is outside the mailbox's scope"
    return candidate, None
