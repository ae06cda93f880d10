"""Table Storage keys: any Graph / ERP id made into a valid PartitionKey or RowKey.

Table keys forbid ``/ \\ # ?`` and control characters (U+0000–U+001F, U+007F–U+009F) and are
limited to 1 KiB; ``%`` and ``+`` are mangled by some URL layers. :func:`escape` writes every
character outside ``[A-Za-z0-9-_.@=]`` as ``!`` + two upper-case hex digits per UTF-8 byte, so an
escaped key is pure, URL-safe ASCII, reversible with :func:`unescape`, and
``escape(a + b) == escape(a) + escape(b)`` (prefix queries keep working). :func:`key` joins escaped
parts with ``:``. A key longer than :data:`MAX_KEY_CHARS` keeps its first characters and ends with
``~`` + the SHA-256 of the whole unescaped key: still unique and exact (``~`` never appears in an
escaped key, so a hashed key never equals a plain one); such rows also store the full id in a
property, which is where readers take the id from.

Log row keys (:func:`log_row_key`) sort newest first: inverted .NET ticks, then an inverted
position within one append, then a random suffix so concurrent appends never collide.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@=")
"""Characters kept as they are; everything else is escaped."""

ESCAPE = "!"
SEPARATOR = ":"
HASH_MARK = "~"
MAX_KEY_CHARS = 500
"""Longest key written: 500 ASCII characters is ≤ 1 KiB however the service counts (UTF-16)."""

_HEAD = MAX_KEY_CHARS - 1 - 64


def escape(value: str) -> str:
    """``!XX``-encode every character outside :data:`SAFE` (lone surrogates included)."""
    out: list[str] = []
    for char in value:
        if char in SAFE:
            out.append(char)
        else:
            out.extend(f"{ESCAPE}{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def unescape(value: str) -> str:
    """Inverse of :func:`escape`."""
    raw = bytearray()
    i = 0
    while i < len(value):
        if value[i] == ESCAPE:
            raw.append(int(value[i + 1:i + 3], 16))
            i += 3
        else:
            raw.extend(value[i].encode("ascii"))
            i += 1
    return raw.decode("utf-8", "surrogatepass")


def _digest(parts: tuple[str, ...]) -> str:
    joined = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(joined).hexdigest()


def key(*parts: str) -> str:
    """A valid table key for ``parts``: escaped, ``:``-joined, hashed when too long."""
    plain = SEPARATOR.join(escape(p) for p in parts)
    if len(plain) <= MAX_KEY_CHARS:
        return plain
    return plain[:_HEAD] + HASH_MARK + _digest(parts)


def is_hashed(table_key: str) -> bool:
    """True when ``table_key`` was shortened (the id must be read from the row's properties)."""
    return HASH_MARK in table_key


def prefix_range(*parts: str) -> tuple[str, str | None]:
    """``(low, high)`` bounds of every key whose escaped form starts with ``key(*parts)``.

    ``high`` is None when ``low`` is empty (the whole partition). Hashed keys keep their first
    characters, so they fall in the range too; callers still check the full id.
    """
    low = SEPARATOR.join(escape(p) for p in parts)[:_HEAD]
    if not low:
        return "", None
    return low, low[:-1] + chr(ord(low[-1]) + 1)


_TICKS_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TICKS = 3155378975999999999  # .NET DateTime.MaxValue.Ticks


def ticks(at: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01 UTC) of ``at``; naive datetimes are taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    delta = at.astimezone(UTC) - _TICKS_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def log_row_key(at: datetime, position: int) -> str:
    """A unique row key sorting newest first; later ``position`` in one append sorts first."""
    inverted = _MAX_TICKS - ticks(at)
    return f"{inverted:019d}-{999_999 - position % 1_000_000:06d}-{secrets.token_hex(6)}"
