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
from collections.abc import Mapping
from typing import Any

from shared.domain.records import RecordType
from shared.erp.mapping import ENTITY
from shared.errors import ValidationFailed
from shared.ports import Removed

logger = logging.getLogger(__name__)

DEFAULT_QUERIES: dict[str, RecordType] = {name: record_type for record_type, name in ENTITY.items()}


@dataclasses.dataclass(frozen=True)
class PushNotification:
    """One parsed notification."""

    id: str
    timestamp: int
    record_type: RecordType | None
    removed: tuple[Removed, ...]
    changed: tuple[str, ...]


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


def parse_push(payload: Any, queries: Mapping[str, RecordType] | None = None) -> PushNotification:
    """Parse a push body; raises ValidationFailed naming the bad field."""
    if not isinstance(payload, Mapping):
        raise ValidationFailed({"body": "expected a JSON object from an Acumatica push notification"})
    for field in ("Inserted", "Deleted"):
        if not isinstance(payload.get(field, []), list):
            raise ValidationFailed({field: "expected an array of rows"})
    query = str(payload.get("Query", ""))
    record_type = (queries or DEFAULT_QUERIES).get(query)
    if record_type is None:
        logger.info("push notification for unmapped query %r ignored", query)
    inserted = [i for i in (_row_id(r) for r in payload.get("Inserted", [])) if i]
    deleted = [i for i in (_row_id(r) for r in payload.get("Deleted", [])) if i]
    removed = tuple(Removed(i) for i in dict.fromkeys(deleted) if i not in set(inserted))
    return PushNotification(id=str(payload.get("Id", "")), timestamp=int(payload.get("TimeStamp") or 0),
                            record_type=record_type, removed=removed, changed=tuple(dict.fromkeys(inserted)))
