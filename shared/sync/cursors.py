"""The cursors of the mailbox a run syncs: its cursor book read once, each change one write.

The engine reads a mailbox's cursors (delta links, ERP watermarks, the dates it wrote) many times
per run; :class:`BookedState` answers those reads from one :class:`~shared.ports.CursorBook` read
at first use and stores every change as one conditional write of the book. A write that finds the
book changed meanwhile (an admin's status reset) reads it again and applies the change on top, so
the other writer's changes are kept, exactly as the by-name methods do. Everything else goes to
the wrapped store unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from shared.errors import ConcurrencyConflict
from shared.ports import CursorBook, StateStore, Stored


class BookedState:
    """A StateStore whose cursor methods for ``mailbox`` work on one cached cursor book."""

    def __init__(self, state: StateStore, mailbox: str) -> None:
        self._state = state
        self._mailbox = mailbox
        self._book: CursorBook | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)

    async def _read(self) -> CursorBook:
        if self._book is None:
            self._book = await self._state.get_cursors(self._mailbox)
        return self._book

    async def _change(self, name: str, value: str | None) -> CursorBook:
        for attempt in range(2):
            book = await self._read()
            if book.values.get(name) == value and (value is None or book.etag is not None):
                return book
            values = {k: v for k, v in book.values.items() if k != name}
            if value is not None:
                values[name] = value
            try:
                self._book = await self._state.put_cursors(dataclasses.replace(book, values=values))
                return self._book
            except ConcurrencyConflict:
                if attempt:
                    raise
                self._book = None  # someone else wrote the book: read it again, apply on top
        raise AssertionError("unreachable")

    async def get_cursor(self, mailbox: str, name: str) -> Stored[str] | None:
        if mailbox != self._mailbox:
            return await self._state.get_cursor(mailbox, name)
        book = await self._read()
        value = book.values.get(name)
        return None if value is None or book.etag is None else Stored(value, book.etag)

    async def put_cursor(self, mailbox: str, name: str, value: str, etag: str | None = None) -> str:
        if mailbox != self._mailbox or etag is not None:
            self._book = None
            return await self._state.put_cursor(mailbox, name, value, etag)
        return (await self._change(name, value)).etag or ""

    async def delete_cursor(self, mailbox: str, name: str) -> None:
        if mailbox != self._mailbox:
            await self._state.delete_cursor(mailbox, name)
            return
        await self._change(name, None)
