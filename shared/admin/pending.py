"""Coalescing of sync requests: at most one waiting message per mailbox covers every change.

Each enqueued request records a *pending* document (DocumentStore kind ``pending``, key = mailbox)
with the record types it covers (None: all). A notification whose types are already covered by a
pending request younger than the lease time is not enqueued again: the waiting run will read
the change anyway (the delta read is the truth). The worker deletes the document when it starts,
*before* it reads anything, so a change arriving later always gets a new message.
Without this, every write of a run would echo back as a push and queue one more run per item.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.domain.records import RecordType
from shared.ports import DocumentStore

logger = logging.getLogger(__name__)

KIND = "pending"


def _types(value: Sequence[str] | None) -> set[RecordType] | None:
    return None if value is None else {RecordType(t) for t in value}


async def covered(store: DocumentStore, email: str, types: Sequence[RecordType] | None, now: datetime,
                  max_age: timedelta) -> bool:
    """True when a pending request for ``email`` already covers ``types``."""
    doc = await store.get_doc(KIND, email)
    if doc is None or datetime.fromisoformat(doc.value["at"]) < now - max_age:
        return False
    pending = _types(doc.value.get("types"))
    if pending is None:
        return True
    return types is not None and set(types) <= pending


async def mark(store: DocumentStore, email: str, types: Sequence[RecordType] | None, now: datetime) -> None:
    """Record that a request covering ``types`` is waiting (merged with what already waits)."""
    doc = await store.get_doc(KIND, email)
    merged: set[RecordType] | None
    waiting = _types(doc.value.get("types")) if doc is not None else set()
    merged = None if types is None or waiting is None else set(types) | waiting
    value = {"at": now.isoformat(), "types": None if merged is None else sorted(t.value for t in merged)}
    await store.put_doc(KIND, email, value, force=True)


async def clear(store: DocumentStore, email: str) -> None:
    """A run starts: later changes need a new request."""
    await store.delete_doc(KIND, email)


async def describe(store: DocumentStore, email: str) -> dict[str, object] | None:
    """The waiting request of ``email`` for the status API (None: nothing waits)."""
    doc = await store.get_doc(KIND, email)
    if doc is None:
        return None
    return {"since": doc.value["at"], "types": doc.value.get("types")}
