"""ERP push removals kept per mailbox until a run has recorded them.

Acumatica's queries never show a deletion; its push notifications do. The intake parses each
notification once (:func:`shared.erp.push.parse_push`) and keeps the typed result for every
mailbox it concerns (DocumentStore kind ``erp_push``, key ``<mailbox>|<type>|<time stamp>|<id>``).
The worker reads them into :class:`~shared.ports.PushRemovals` for the engine and acknowledges
(deletes) a type's notifications only after the engine saved that type's ERP cursor, so a failed
or interrupted run leaves them for the next one.
"""

from __future__ import annotations

import dataclasses
import logging

from shared.domain.records import RecordType
from shared.erp.push import PushNotification, fold_removals
from shared.errors import ExsyncError
from shared.ports import DocumentStore, PushRemovals

logger = logging.getLogger(__name__)

KIND = "erp_push"


def _key(email: str, note: PushNotification) -> str:
    record_type = note.record_type.value if note.record_type else "-"
    return f"{email}|{record_type}|{max(note.timestamp, 0):020d}|{note.id[:64]}"


async def keep(store: DocumentStore, emails: list[str], note: PushNotification) -> None:
    """Keep ``note`` for each mailbox's next run."""
    for email in emails:
        await store.put_doc(KIND, _key(email, note), note.to_doc(), force=True)


@dataclasses.dataclass(frozen=True, slots=True)
class Kept:
    """What waits for one mailbox: the removals for the engine and the keys to acknowledge per type."""

    removals: PushRemovals
    keys: dict[RecordType, list[str]]

    async def acknowledge(self, store: DocumentStore, record_type: RecordType) -> None:
        """The type's ERP cursor is saved: its notifications are recorded, drop them."""
        for key in self.keys.pop(record_type, []):
            await store.delete_doc(KIND, key)


async def waiting_for(store: DocumentStore, email: str) -> Kept:
    """The notifications kept for ``email``, oldest first, folded into removals per type."""
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
    return Kept(fold_removals(notes), keys)
