"""Acumatica push notifications -> deletions (and changed ids) the sync can act on.

Acumatica POSTs ``{"Inserted": [rows], "Deleted": [rows], "Query": name, "CompanyId": tenant,
"Id": transaction GUID, "TimeStamp": long, "AdditionalInfo": {}}`` to the webhook after each
committed change. An update appears in both arrays; a row only in ``Deleted`` is a record that
was deleted (or left the notification's query). The query name tells the record type: by default
the entity name (``Contact``, ``Email``, ``Task``, ``Event``); other names can be mapped.
Pure parsing: persisting notifications (so none is lost between runs) is the caller's job.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from shared.domain.records import RecordType
from shared.erp.mapping import ENTITY
from shared.errors import ValidationFailed
from shared.ports import PushRemovals, Removed

logger = logging.getLogger(__name__)

DEFAULT_QUERIES: dict[str, RecordType] = {name: record_type for record_type, name in ENTITY.items()}
_TYPE_WORDS = {"contact": RecordType.CONTACT, "email": RecordType.EMAIL, "mail": RecordType.EMAIL,
               "task": RecordType.TASK, "event": RecordType.EVENT}


def query_type(query: str, queries: Mapping[str, RecordType] | None = None) -> RecordType | None:
    """The record type of a push notification's query: a mapped name (default: the entity names),
    else the first type word in it (``exsync-tasks`` -> task). The one rule intake and run share."""
    mapped = (queries or DEFAULT_QUERIES).get(query)
    if mapped is not None:
        return mapped
    lowered = query.lower()
    for word, record_type in _TYPE_WORDS.items():
        if word in lowered:
            return record_type
    return None


@dataclasses.dataclass(frozen=True)
class PushNotification:
    """One parsed notification."""

    id: str
    timestamp: int
    record_type: RecordType | None
    removed: tuple[Removed, ...]
    changed: tuple[str, ...]

    def to_doc(self) -> dict[str, Any]:
        """The typed form kept until the mailbox's next run (DocumentStore ``erp_push``)."""
        return {"id": self.id, "timestamp": self.timestamp,
                "record_type": self.record_type.value if self.record_type else None,
                "removed": [r.id for r in self.removed], "changed": list(self.changed)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> PushNotification:
        """Read :meth:`to_doc`'s form back (a raw body kept by an older version is parsed)."""
        if "removed" not in doc:
            return parse_push(doc)
        raw_type = doc.get("record_type")
        return cls(id=str(doc.get("id") or ""), timestamp=int(doc.get("timestamp") or 0),
                   record_type=RecordType(raw_type) if raw_type else None,
                   removed=tuple(Removed(str(i)) for i in doc.get("removed") or ()),
                   changed=tuple(str(i) for i in doc.get("changed") or ()))


def _row_id(row: Any) -> str | None:
    if not isinstance(row, Mapping):
        return None
    for key in ("NoteID", "id", "noteID", "NoteId"):
        raw = row.get(key)
        if isinstance(raw, Mapping):
            raw = raw.get("value")
        if raw:
            return str(raw).lower()
    return None


def _timestamp(payload: Mapping[str, Any]) -> int:
    raw = payload.get("TimeStamp")
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().lstrip("-").isdigit():
        raise ValidationFailed({"TimeStamp": "expected an integer (Acumatica's increasing push time stamp), "
                                             f"got {type(raw).__name__} {str(raw)[:40]!r}"})
    return int(raw)


def parse_push(payload: Any, queries: Mapping[str, RecordType] | None = None) -> PushNotification:
    """Parse a push body; raises ValidationFailed naming the bad field."""
    if not isinstance(payload, Mapping):
        raise ValidationFailed({"body": "expected a JSON object from an Acumatica push notification"})
    for field in ("Inserted", "Deleted"):
        if not isinstance(payload.get(field, []), list):
            raise ValidationFailed({field: "expected an array of rows"})
    timestamp = _timestamp(payload)
    query = str(payload.get("Query", ""))
    record_type = query_type(query, queries)
    if record_type is None:
        logger.info("push notification for unmapped query %r ignored", query)
    inserted = [i for i in (_row_id(r) for r in payload.get("Inserted", [])) if i]
    deleted = [i for i in (_row_id(r) for r in payload.get("Deleted", [])) if i]
    removed = tuple(Removed(i) for i in dict.fromkeys(deleted) if i not in set(inserted))
    return PushNotification(id=str(payload.get("Id", "")), timestamp=timestamp,
                            record_type=record_type, removed=removed, changed=tuple(dict.fromkeys(inserted)))


def fold_removals(notifications: Iterable[PushNotification]) -> PushRemovals:
    """The ids still removed after ``notifications`` in order (a later insert cancels a removal)."""
    pending: dict[RecordType, dict[str, None]] = {}
    for note in notifications:
        if note.record_type is None:
            continue
        ids = pending.setdefault(note.record_type, {})
        for removed in note.removed:
            ids[removed.id] = None
        for changed in note.changed:
            ids.pop(changed, None)
    return PushRemovals({t: tuple(ids) for t, ids in pending.items() if ids})
