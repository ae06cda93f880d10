"""ERP push removals kept per mailbox until a run has recorded them.

Acumatica's queries never show a deletion; its push notifications do. The intake parses each
notification once (:func:`shared.erp.push.parse_push`) and keeps the typed result for every
mailbox it concerns (DocumentStore kind ``erp_push``, key ``<mailbox>|<type>|<time stamp>|<id>``).
The worker reads them into :class:`~shared.ports.PushRemovals` for the engine and acknowledges
(deletes) a type's notifications only after the engine saved that type's ERP cursor, so a failed
or interrupted run leaves them for the next one.

The mailbox's waiting document (:mod:`shared.admin.pending`) says whether any are kept, so a run
lists them only then: ``pushes`` counts the notifications kept (bumped by one conditional write
*after* the notification is stored), ``pushes_seen`` the count a run had read before it listed
them and then acknowledged everything it listed. A run lists while ``pushes > pushes_seen``; a
notification kept during a run bumps ``pushes`` past what that run records as seen, so the next
run lists again. A document without ``pushes_seen`` (written before the counters existed) lists.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from shared.admin import pending
from shared.domain.records import RecordType
from shared.erp.push import PushNotification, fold_removals
from shared.errors import ExsyncError
from shared.ports import DocumentStore, PushRemovals

logger = logging.getLogger(__name__)

KIND = "erp_push"


def _key(email: str, note: PushNotification) -> str:
    record_type = note.record_type.value if note.record_type else "-"
    return f"{email}|{record_type}|{max(note.timestamp, 0):020d}|{note.id[:64]}"


def bumped(value: dict[str, Any]) -> dict[str, Any]:
    """The waiting document after one more notification was kept."""
    return {**value, "pushes": int(value.get("pushes") or 0) + 1}


def seen(count: int) -> pending.Edit:
    """The waiting document after a run acknowledged every notification kept up to ``count``."""
    return lambda value: {**value, "pushes_seen": max(int(value.get("pushes_seen") or 0), count)}


def unseen(value: dict[str, Any]) -> int | None:
    """The count of kept notifications when some may wait (None: the document says none do)."""
    count = int(value.get("pushes") or 0)
    if "pushes_seen" in value and count <= int(value.get("pushes_seen") or 0):
        return None
    return count


async def keep(store: DocumentStore, emails: list[str], note: PushNotification) -> None:
    """Keep ``note`` for each mailbox's next run (stored first, then counted in its waiting document)."""
    for email in emails:
        await store.put_doc(KIND, _key(email, note), note.to_doc(), force=True)
        await pending.edit(store, email, bumped)


@dataclasses.dataclass(frozen=True, slots=True)
class Kept:
    """What waits for one mailbox: the removals for the engine, the keys to acknowledge per type
    and the count of kept notifications read before they were listed (None: not listed)."""

    removals: PushRemovals
    keys: dict[RecordType, list[str]]
    count: int | None = None

    async def acknowledge(self, store: DocumentStore, record_type: RecordType) -> None:
        """The type's ERP cursor is saved: its notifications are recorded, drop them."""
        for key in self.keys.pop(record_type, []):
            await store.delete_doc(KIND, key)

    def settle(self, desk: pending.Desk) -> None:
        """The run ended: when it acknowledged all it listed, its next write records them as seen."""
        if self.count is not None and not self.keys:
            desk.stage(seen(self.count))


async def waiting_for(store: DocumentStore, email: str, desk: pending.Desk | None = None) -> Kept:
    """The notifications kept for ``email``, oldest first, folded into removals per type; with the
    lease holder's ``desk``, listed only when the waiting document says some may wait."""
    count = unseen(desk.known()) if desk is not None else 0
    if count is None:
        return Kept(PushRemovals(), {})
    docs = sorted(await store.list_docs(KIND, f"{email}|"), key=lambda kv: kv[0])
    notes: list[PushNotification] = []
    keys: dict[RecordType, list[str]] = {}
    for key, doc in docs:
        try:
            note = PushNotification.from_doc(doc.value)
        except (ExsyncError, ValueError, TypeError):
            logger.warning("a kept ERP push notification is unreadable; left in place")
            continue
        if note.record_type is None:
            continue
        notes.append(note)
        keys.setdefault(note.record_type, []).append(key)
    return Kept(fold_removals(notes), keys, count if desk is not None else None)
