"""The tenant-wide ERP change feed: one incremental ERP listing per record type for every mailbox.

Acumatica's licence caps requests per minute and concurrent requests, so the ERP cost of a cycle
must not grow with the mailboxes. :func:`read_feed` lists the changes of one record type since the
*tenant* watermark (FeedStore ``get_feed_cursor``; the same :mod:`shared.erp.cursor` arithmetic a
mailbox's own listing uses, over :data:`shared.ports.TENANT_SCOPE`), routes each change to the
mailboxes whose scope can see it (:mod:`shared.sync.routing`) and records it per mailbox
(``put_routed``). A mailbox's run then consumes its routed changes instead of listing the ERP
(:func:`shared.sync.run` ``_routed_pass``); a quiet mailbox costs the ERP nothing.

Invariants (the state machine in ``tests/property`` checks them with crashes at every step):

- The tenant watermark advances only after every change of the listing is recorded for its
  mailboxes. A crash in between re-lists from the old watermark and routes the same changes again
  (upserts: a mailbox holds one row per record, the newest version).
- A routed change is removed only after the mailbox's run recorded it (its links are written;
  a failed, deferred or deletion-pending change stays for the next run), and only the version the
  run read: a newer version routed meanwhile stays.
- Hand-over: a mailbox lists the ERP itself (first run, reset, resync, or the feed off) and
  switches to the feed (cursor value :data:`FOLLOWS`) only after a complete own listing that began
  when the tenant watermark already existed. Every feed listing after that watermark is routed to
  every mailbox syncing the type, whatever its mode, so nothing changed after the own listing began
  can be missed. A fresh own listing first drops the rows routed before it began (it sees their
  changes; consumed after the hand-over they would be processed twice, and re-create a record
  whose link the run dropped meanwhile): :mod:`shared.sync.handover` is the decision table.
- The very first feed listing of a type (no watermark yet) routes nothing: no mailbox follows the
  feed yet, and each does its own listing before it does.
- A listing that routed changes to a mailbox bumps the ``"routed"`` count in its cursor book
  (:data:`shared.sync.names.ROUTED`) after the routed rows and before the watermark; a run that
  consumed every routed change records the count it had read at its start as
  ``"routed.consumed"`` (:class:`Routed`). Equal counts: nothing waits, the run reads no routed
  rows. The run never writes ``"routed"`` (only creates it, while absent), so its flush, which
  re-reads the book on a conflict and applies its own names on top, never hides a bump; a bump
  made after the run read the book leaves the counts unequal, and the next run reads the rows.

What routing cannot see: a record that *left* a mailbox's scope (its owner changed) is routed to
the new owner only; the old owner's copy is unlinked by the ERP push of the old row (its
``Deleted`` row names the old owner, :mod:`shared.admin.erp_pushes`) or at the latest by the daily
ERP id reconciliation of its links. A deletion a listing shows (the in-memory twin; Acumatica's
listings never show one) names nobody: every mailbox syncing the type gets it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from shared.domain.records import RecordType
from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.ports import TENANT_SCOPE, CursorStore, ErpGateway, ErpItem, FeedStore, Removed, RoutedChange, Stored
from shared.sync import names
from shared.sync.cursors import RunCursors
from shared.sync.routing import Subscriber, audience, sighting_of

logger = logging.getLogger(__name__)

FOLLOWS = "feed"
"""A mailbox's ``"<type>.erp"`` cursor once its ERP side follows the tenant feed."""

REMOVED_VERSION = "-"
"""The routed version of a deletion the listing showed (never equal to a record's version)."""

FEED_PAGE = 200
"""Rows per page of a feed listing."""


_BUMP_ATTEMPTS = 5


class FeedState(FeedStore, CursorStore, Protocol):
    """What a feed read writes: the routed changes, the watermarks and each mailbox's routed count."""


def _count(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


async def bump_routed(state: CursorStore, mailbox: str) -> None:
    """Count one more routing to ``mailbox`` in its cursor book (conditional; a 412 reads again)."""
    for attempt in range(_BUMP_ATTEMPTS):
        book = await state.get_cursors(mailbox)
        values = {**book.values, names.ROUTED: str(_count(book.values.get(names.ROUTED)) + 1)}
        try:
            await state.put_cursors(dataclasses.replace(book, values=values))
            return
        except (ConcurrencyConflict, AlreadyExists):
            if attempt == _BUMP_ATTEMPTS - 1:
                raise


@dataclasses.dataclass(slots=True)
class Routed:
    """A run's view of the changes routed to its mailbox: the counts its book held at the start,
    and (when they differed) which types the run found changes of (None: too many to tell)."""

    count: str | None
    consumed_count: str | None
    waiting: set[RecordType] | None = dataclasses.field(default_factory=set)
    peeked_rows: bool = False

    @classmethod
    def of(cls, cursors: RunCursors) -> Routed:
        return cls(cursors.get(names.ROUTED), cursors.get(names.ROUTED_CONSUMED))

    @property
    def consumed(self) -> bool:
        """Nothing was routed since the mailbox last consumed every routed change."""
        return self.count is not None and self.count == self.consumed_count

    def peeked(self, waiting: set[RecordType] | None) -> Routed:
        self.waiting, self.peeked_rows = waiting, True
        return self

    def settle(self, cursors: RunCursors, drained: set[RecordType]) -> None:
        """Before the run's final flush: the count recorded as consumed when every type with
        routed changes waiting consumed them all (``drained``)."""
        if not self.peeked_rows:
            return
        if self.waiting is None or self.waiting - drained:
            return
        cursors.put(names.ROUTED_CONSUMED, self.count if self.count is not None else "0")
        if self.count is None:
            cursors.create(names.ROUTED, "0")


@dataclasses.dataclass(frozen=True, slots=True)
class FeedRead:
    """What one feed listing of one type did."""

    record_type: RecordType
    listed: int
    routed: int
    mailboxes: frozenset[str]
    """The mailboxes that got at least one change."""
    first: bool = False
    """No watermark existed: the listing set it and routed nothing."""


def _routes(record_type: RecordType, entries: Sequence[ErpItem[Any] | Removed],
            subscribers: Sequence[Subscriber]) -> list[RoutedChange]:
    syncing = [s for s in subscribers if record_type in s.types]
    out: list[RoutedChange] = []
    for entry in entries:
        if isinstance(entry, Removed):
            out += [RoutedChange(s.email, record_type, entry.id, REMOVED_VERSION) for s in syncing]
            continue
        for email in audience(sighting_of(record_type, entry), syncing):
            out.append(RoutedChange(email, record_type, entry.id, entry.version))
    return out


async def read_feed(erp: ErpGateway, state: FeedState, record_type: RecordType,
                    subscribers: Sequence[Subscriber], page_size: int = FEED_PAGE, *,
                    watermarks: Mapping[RecordType, Stored[str]] | None = None) -> FeedRead:
    """List the type's changes since the tenant watermark, route and record them, then save the
    watermark (only when something was listed: an unchanged one lists the same again). Two readers
    at once both record their routes; the second's watermark save loses (ConcurrencyConflict) and
    is dropped, the winner's covers everything the loser listed. Each mailbox that got changes has
    its routed count bumped after its rows and before the watermark. ``watermarks``: every type's,
    as ``list_feed_cursors`` just read them (None: read this type's)."""
    stored = watermarks.get(record_type) if watermarks is not None else await state.get_feed_cursor(record_type)
    first = stored is None
    cursor = None if stored is None else stored.value or None
    listed = routed = 0
    mailboxes: set[str] = set()
    while True:
        page = await erp.list_changes(record_type, TENANT_SCOPE, cursor, page_size)
        listed += len(page.items)
        if not first:
            changes = _routes(record_type, page.items, subscribers)
            if changes:
                await state.put_routed(changes)  # recorded before the watermark may move
            routed += len(changes)
            mailboxes.update(c.mailbox for c in changes)
        cursor = page.cursor
        if page.complete:
            break
    if listed == 0 and stored is not None:
        return FeedRead(record_type, 0, 0, frozenset())  # nothing new: the old watermark lists the same
    for email in sorted(mailboxes):  # after the rows, before the watermark
        await bump_routed(state, email)
    try:  # "": an empty ERP gave no watermark yet (the feed exists all the same)
        await state.put_feed_cursor(record_type, cursor or "", None if stored is None else stored.etag)
    except (ConcurrencyConflict, AlreadyExists):
        logger.info("another reader saved the %s feed watermark first; its listing covers this one", record_type)
    logger.info("ERP feed %s: %d change(s) listed, %d routed to %d mailbox(es)%s", record_type, listed,
                routed, len(mailboxes), " (first listing: watermark set)" if first else "")
    return FeedRead(record_type, listed, routed, frozenset(mailboxes), first)


async def drop_routed(store: FeedStore, mailbox: str, record_type: RecordType, page: int) -> int:
    """Remove the changes routed to ``mailbox`` for the type as they stand, ``page`` at a time (a row
    routed again since it was listed keeps its newer version); the number of rows listed."""
    after: str | None = None
    dropped = 0
    while True:
        rows = await store.list_routed(mailbox, record_type, page, after)
        if rows:
            await store.delete_routed(rows)
            dropped += len(rows)
        if len(rows) < page:
            return dropped
        after = rows[-1].erp_id
