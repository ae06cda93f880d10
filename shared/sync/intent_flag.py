"""The cursor book's word on open create intents, so an idle run reads no intent rows.

The book's ``"intents"`` value (:data:`shared.sync.names.INTENTS`) is ``"open"`` while create
intents may exist and ``"none"`` once a run left none. A run reads its book anyway, so:

- ``"none"``: no intent is open; the run does not list them;
- ``"open"`` or absent (a mailbox an earlier version synced: the flag was not kept then): the run
  lists them, and from then on keeps the flag;
- before a run writes its first intent the flag is set to ``"open"`` and the book is written
  (:meth:`OpenIntents.opening`): a crash after the intents are written leaves the flag set;
- the run's final flush sets ``"none"`` when every intent it wrote or found was deleted
  (:meth:`OpenIntents.settle`), and only when it knows: it listed them, or the book said none.

Housekeeping's purge of old intents may leave ``"open"`` behind: the next run lists, finds
none and clears the flag. Nothing else writes intents (the run holds the mailbox lease).
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.records import RecordType
from shared.ports import Intent
from shared.sync import names
from shared.sync.cursors import RunCursors

OPEN = "open"
NONE = "none"


def _key(intent: Intent) -> tuple[RecordType, str]:
    return intent.record_type, intent.intent_id


class OpenIntents:
    """The intents a run knows to be open, and the book's flag that says whether any may be."""

    def __init__(self, cursors: RunCursors) -> None:
        self._cursors = cursors
        self._open: set[tuple[RecordType, str]] = set()
        self._known = False

    @property
    def must_list(self) -> bool:
        """False when the book says no intent is open (the run lists none)."""
        return self._cursors.get(names.INTENTS) != NONE

    def listed(self, intents: Iterable[Intent]) -> None:
        """The run listed every open intent of the mailbox (or the book said there are none)."""
        self._known = True
        self._open.update(_key(i) for i in intents)

    async def opening(self, intents: Iterable[Intent]) -> None:
        """Before ``intents`` are written: the flag set and written first."""
        self._open.update(_key(i) for i in intents)
        if self._cursors.stored(names.INTENTS) != OPEN:
            self._cursors.put(names.INTENTS, OPEN)
            await self._cursors.flush()

    def closed(self, intents: Iterable[Intent]) -> None:
        """``intents`` were deleted."""
        self._open.difference_update(_key(i) for i in intents)

    def settle(self) -> None:
        """Before the run's final flush: the flag cleared when the run left no intent open."""
        if self._known and not self._open:
            self._cursors.put(names.INTENTS, NONE)
