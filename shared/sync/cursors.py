"""The cursors of one run: the mailbox's cursor book read once, written once when it changed.

A run reads every cursor of its mailbox (watermarks, delta links, reconciliation marks, the open
intents flag and the routed counts; see :mod:`shared.sync.names`) in one request at its start and
keeps its changes here. :meth:`RunCursors.flush` writes them in one conditional write, and only when a value
differs from the stored one. The engine flushes when a value must be durable before it goes on:
after a mid-listing page's cursor (progress a crash must not lose), before a type's push
removals are acknowledged, and at the end of the run. A value that was never flushed is older
on disk, never newer, so a crash re-reads at most what the run had not recorded — which echo
detection makes cheap, as it always has.

The run holds the mailbox lease, so the other writers are an admin changing cursors (a resync
deleting a listing cursor) and the tenant ERP feed counting the changes it routed to the mailbox
(:mod:`shared.sync.feed`) while it runs: a flush that finds the book changed re-reads it and
applies this run's own changes on top, as the by-name writes of earlier versions did. Two kinds of
change never overrule the stored book:

- :meth:`RunCursors.refresh`: a value worth keeping only when the book is written anyway (a delta
  link renewed by a listing that saw nothing: the stored one still lists the same changes), so an
  idle run writes nothing;
- :meth:`RunCursors.create`: a value set only while the stored book lacks the name (another
  writer's name, which the run starts but must never overwrite).
"""

from __future__ import annotations

import dataclasses

from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.ports import CursorBook, CursorStore

_REMOVED = None
_ATTEMPTS = 3


class RunCursors:
    """One mailbox's cursors for the length of a run."""

    def __init__(self, store: CursorStore, book: CursorBook) -> None:
        self._store = store
        self._book = book
        self._changes: dict[str, str | None] = {}   # name -> new value (None: removed)
        self._refreshed: dict[str, str] = {}        # name -> value written only with other changes
        self._created: dict[str, str] = {}          # name -> value written only while the name is absent

    @classmethod
    async def load(cls, store: CursorStore, mailbox: str) -> RunCursors:
        return cls(store, await store.get_cursors(mailbox))

    def get(self, name: str) -> str | None:
        if name in self._changes:
            return self._changes[name]
        if name in self._refreshed:
            return self._refreshed[name]
        if name not in self._book.values and name in self._created:
            return self._created[name]
        return self._book.values.get(name)

    def stored(self, name: str) -> str | None:
        """The value as the book was last read or written (this run's unwritten changes aside)."""
        return self._book.values.get(name)

    def put(self, name: str, value: str) -> None:
        self._changes[name] = value
        self._refreshed.pop(name, None)

    def delete(self, name: str) -> None:
        self._changes[name] = _REMOVED
        self._refreshed.pop(name, None)

    def refresh(self, name: str, value: str) -> None:
        """Set ``name`` only if the book is written anyway (by another change of this run) and
        still holds a value for it (an admin's deletion meanwhile wins)."""
        if name in self._changes:
            self._changes[name] = value
        else:
            self._refreshed[name] = value

    def create(self, name: str, value: str) -> None:
        """Set ``name`` only while the stored book has no value for it (checked again on every re-read)."""
        self._created[name] = value

    def _apply(self, values: dict[str, str]) -> dict[str, str]:
        out = dict(values)
        for name, initial in self._created.items():
            out.setdefault(name, initial)
        for name, value in self._changes.items():
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return out

    @property
    def dirty(self) -> bool:
        return self._apply(self._book.values) != self._book.values

    async def flush(self) -> None:
        """Write the changes in one request (none when nothing differs from the stored book;
        refreshed values ride along only when something else does)."""
        for attempt in range(_ATTEMPTS):
            values = self._apply(self._book.values)
            if values == self._book.values:
                self._changes.clear()
                self._created.clear()
                return
            values.update({n: v for n, v in self._refreshed.items() if n in self._book.values})
            try:
                self._book = await self._store.put_cursors(dataclasses.replace(self._book, values=values))
            except (ConcurrencyConflict, AlreadyExists):
                if attempt == _ATTEMPTS - 1:
                    raise
                self._book = await self._store.get_cursors(self._book.mailbox)  # another writer changed it
                continue
            self._changes.clear()
            self._refreshed.clear()
            self._created.clear()
            return
