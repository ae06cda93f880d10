"""Progress of a running sync, published for the status API while the run works.

The engine reports ``("<type>.<erp|mailbox>", items done)`` after every page; :class:`Board`
keeps the latest report and :meth:`Board.publish` writes it (when it changed) to the DocumentStore
(kind ``progress``, key = mailbox). The status API shows it as ``progress``; the worker removes it
when the run ends. An ERP pass exports (ERP to mailbox), a mailbox pass imports.

A short run publishes nothing: progress appears once a pass reached its second page or the run
has worked for ``QUIET_SECONDS`` (so a run of a few requests costs no extra status writes).
"""

from __future__ import annotations

import logging
from typing import Any

from shared.domain.records import RecordType
from shared.domain.status import SyncDirection
from shared.ports import Clock, DocumentStore, Side

logger = logging.getLogger(__name__)

KIND = "progress"
QUIET_SECONDS = 10.0


def report(key: str, done: int, total: int | None, at: str) -> dict[str, Any]:
    """The status API's ``progress`` object for an engine report ``key`` = ``"<type>.<side>"``."""
    record_type, _, side = key.partition(".")
    direction = SyncDirection.EXPORT if side == Side.ERP.value else SyncDirection.IMPORT
    return {"record_type": RecordType(record_type).value, "direction": direction.value, "done": done,
            "total": total, "updated_at": at}


class Board:
    """The latest progress of one run; the engine's ``progress`` callback writes into it."""

    def __init__(self, store: DocumentStore, clock: Clock, email: str) -> None:
        self._store, self._clock, self._email = store, clock, email
        self._latest: tuple[str, int] | None = None
        self._published: tuple[str, int] | None = None
        self._pages: dict[str, int] = {}
        self._started = clock.now()

    def __call__(self, key: str, done: int) -> None:
        self._latest = (key, done)
        self._pages[key] = self._pages.get(key, 0) + 1

    def _worth_showing(self, key: str) -> bool:
        waited = (self._clock.now() - self._started).total_seconds()
        return self._pages.get(key, 0) >= 2 or waited >= QUIET_SECONDS

    async def publish(self) -> None:
        latest = self._latest
        if latest is None or latest == self._published or not self._worth_showing(latest[0]):
            return
        await self._store.put_doc(KIND, self._email,
                                  report(latest[0], latest[1], None, self._clock.now().isoformat()), force=True)
        self._published = latest

    async def clear(self) -> None:
        if self._published is not None:
            await self._store.delete_doc(KIND, self._email)
            self._published = None


async def current(store: DocumentStore, email: str) -> dict[str, Any] | None:
    doc = await store.get_doc(KIND, email)
    return doc.value if doc else None
