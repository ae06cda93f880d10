"""Names the engine shares with the other parts of exsync.

Cursor names (CursorStore, per mailbox):

- ``"<type>.erp"``: the ERP watermark of the type's listing (``ErpGateway.list_changes``).
- ``"<type>.mailbox"``: the Graph delta cursor of the type's container.
- ``"<type>.erp.reconciled"``: when the ERP ids were last compared with the links (the ERP's
  queries do not show deletions; push notifications can be missed).
- ``"<type>.export"`` / ``"<type>.import"``: written by earlier versions: the export / import
  date the engine last wrote into the mailbox status. The engine's own dates now live in the
  status beside the admin-visible ones (``MailboxStatus.engine_export_dates`` /
  ``engine_import_dates``): when a status date differs from the engine's (the admin's **Reset**
  removed or changed it), the engine drops the matching listing cursor and re-reads that side
  fully; echo detection makes the re-read cheap and creates nothing twice. A mark an earlier
  version left is read once in place of the engine's date, then removed.
- ``"intents"``: ``"open"`` while create intents may exist (set and written before the first
  intent of a run is), ``"none"`` once a run left none; absent on a mailbox an earlier version
  synced (then the run lists its intents, :mod:`shared.sync.intent_flag`).
- ``"routed"``: how many times the tenant feed routed changes to the mailbox (the feed's name);
  ``"routed.consumed"``: the count a run had read when it consumed every routed change (the
  run's name). Equal: nothing is routed and waiting, the run reads no routed rows.

- ``"<type>.erp"`` = ``"feed"`` (:data:`shared.sync.feed.FOLLOWS`): the type's ERP side follows the
  tenant change feed; ``"<type>.erp.feed"``: the last own listing completed while the feed existed,
  so the next one may hand over to it; its value is a digest of that listing's final cursor, so
  the next listing knows whether it starts fresh from there (:mod:`shared.sync.handover`).

- ``"category.checked"``: the category last ensured in the mailbox and when (re-checked daily,
  :mod:`shared.sync.category`).

An admin tool may equally delete ``"<type>.erp"`` / ``"<type>.mailbox"`` directly.
"""

from __future__ import annotations

from shared.domain.records import RecordType
from shared.ports import SENT_ITEMS as SENT_ITEMS  # the port's well-known container name


def erp_cursor(record_type: RecordType) -> str:
    return f"{record_type.value}.erp"


def mailbox_cursor(record_type: RecordType) -> str:
    return f"{record_type.value}.mailbox"


def erp_reconciled_mark(record_type: RecordType) -> str:
    """When the ERP ids of the type were last reconciled against the links (ISO 8601)."""
    return f"{record_type.value}.erp.reconciled"


def erp_feed_mark(record_type: RecordType) -> str:
    """Set when an own ERP listing completed while the tenant feed existed (the next one hands over);
    the value names its final cursor (:func:`shared.sync.handover.mark_of`)."""
    return f"{record_type.value}.erp.feed"


def export_mark(record_type: RecordType) -> str:
    return f"{record_type.value}.export"


def import_mark(record_type: RecordType) -> str:
    return f"{record_type.value}.import"


INTENTS = "intents"
"""Whether create intents may be open (:mod:`shared.sync.intent_flag`)."""

ROUTED = "routed"
"""Bumped by the tenant feed each time it routed changes to the mailbox (:mod:`shared.sync.feed`)."""

ROUTED_CONSUMED = "routed.consumed"
"""The ``"routed"`` count a run had read when it consumed every routed change."""
