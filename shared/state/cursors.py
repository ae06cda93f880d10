"""The cursor book both state stores share: every cursor of a mailbox in one JSON object.

:func:`encode` checks the names and values (the by-name rules of :mod:`shared.state.rules`) and
the size of the whole book; :func:`decode` reads a stored book back. The by-name cursor methods
of the stores are read-modify-write over the book (:func:`changed`), so a value written by name
and one written with the book are the same value.
"""

from __future__ import annotations

import json

from shared.errors import ConcurrencyConflict, ValidationFailed
from shared.ports import CursorBook
from shared.state import rules


def encode(book: CursorBook) -> str:
    rules.check_id(book.mailbox, "mailbox")
    for name, value in book.values.items():
        rules.check_id(name, "name")
        rules.check_text_size(value, "cursor value")
    text = json.dumps(dict(sorted(book.values.items())), separators=(",", ":"), ensure_ascii=False)
    rules.check_text_size(text, f"cursors of {book.mailbox}")
    return text


def decode(text: str, what: str) -> dict[str, str]:
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise ValidationFailed({what: f"stored cursor book is not JSON ({exc}); delete it to start over"}) from exc
    if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise ValidationFailed({what: "stored cursor book is not a name -> text object; delete it to start over"})
    return values


def changed(book: CursorBook, name: str, value: str | None, etag: str | None = None) -> dict[str, str] | None:
    """The book's values with ``name`` set (``value`` None: removed); None when nothing changes.

    ``etag`` (a by-name put's condition) must be the book's current etag."""
    if etag is not None and etag != book.etag:
        raise ConcurrencyConflict(f"cursor {name!r} changed since it was read (stale etag); read it again")
    if value is not None:
        rules.check_text_size(value, "cursor value")
        rules.check_id(name, "name")
    if book.values.get(name) == value:
        return None
    values = dict(book.values)
    if value is None:
        values.pop(name, None)
    else:
        values[name] = value
    return values
