"""The ERP change-listing cursor: a LastModifiedDateTime watermark plus de-duplication state.

Acumatica has no change tracking and no ``$orderby``; a listing is ``LastModifiedDateTime gt
<watermark>`` paged with ``$skip``/``$top`` in key order. To miss nothing:

- the watermark for the next run is the server time when this run's listing began (HTTP ``Date``)
  minus an overlap window, so changes committed while we listed, or committed late with an
  earlier timestamp, are listed again next run (the window also absorbs clock skew between the
  web server that sends ``Date`` and the database that stamps ``LastModifiedDateTime``);
- every record returned with a version at or after that watermark is remembered as
  ``(id, version)`` and skipped when listed again unchanged (no change is listed twice);
- pages overlap by a small margin and the ids at the end of the previous page (``tail``) are
  skipped, so deletions between pages that shift rows backwards lose nothing.

The cursor is compact text (URL-safe base64 of zlib-compressed JSON with binary id/version pairs),
small enough for one Table Storage property for thousands of recent changes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
import uuid
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.errors import SyncStateLost

_PAIR = struct.Struct(">16sq")  # uuid bytes, microseconds since the epoch
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch (UTC)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def micros_of(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


MAX_SEEN = 4000
"""Remembered ``(id, version)`` pairs at most (~130 K characters, within one state row)."""


def cap_seen(seen: Mapping[str, int], since: int | None) -> tuple[dict[str, int], int | None]:
    """Keep the newest :data:`MAX_SEEN` pairs, raising ``since`` past the ones dropped.

    After a bulk change (more than MAX_SEEN records inside the overlap window) the watermark
    moves up to the newest forgotten version, so nothing is listed twice; the overlap then no
    longer covers late commits older than that version.
    """
    if len(seen) <= MAX_SEEN:
        return dict(seen), since
    ordered = sorted(seen.items(), key=lambda pair: pair[1])
    dropped, kept = ordered[:-MAX_SEEN], ordered[-MAX_SEEN:]
    newest_dropped = dropped[-1][1]
    return dict(kept), newest_dropped if since is None else max(since, newest_dropped)


def _pack(pairs: Mapping[str, int]) -> str:
    blob = b"".join(_PAIR.pack(uuid.UUID(item_id).bytes, stamp) for item_id, stamp in sorted(pairs.items()))
    return base64.b64encode(blob).decode()


def _unpack(text: str) -> dict[str, int]:
    blob = base64.b64decode(text)
    return {str(uuid.UUID(bytes=raw)): stamp for raw, stamp in _PAIR.iter_unpack(blob)}


@dataclasses.dataclass(frozen=True)
class ChangeCursor:
    """Where a change listing stands.

    ``since``: lower bound of this run's filter (None: everything). ``seen``: id -> version
    (µs) already returned at or after ``since``. ``quiet_before``: the previous run filtered on
    scope server-side (a first listing), so records outside the scope changed before this time
    were never linked and are not reported as removed. ``started`` (mid-run): server time when this
    run's listing began. Mid-run only: ``skip`` (rows consumed), ``tail``
    (ids at the end of the previous page), ``next_since`` (the next run's watermark) and
    ``next_seen`` (what this run returned at or after it).
    """

    since: int | None = None
    seen: Mapping[str, int] = dataclasses.field(default_factory=dict)
    skip: int | None = None
    tail: tuple[str, ...] = ()
    next_since: int | None = None
    next_seen: Mapping[str, int] = dataclasses.field(default_factory=dict)
    quiet_before: int | None = None
    started: int | None = None

    @property
    def in_run(self) -> bool:
        return self.skip is not None

    def encode(self) -> str:
        data: dict[str, Any] = {"v": 1, "s": self.since, "seen": _pack(self.seen), "q": self.quiet_before}
        if self.in_run:
            data.update({"k": self.skip, "t": list(self.tail), "ns": self.next_since,
                         "nseen": _pack(self.next_seen), "st": self.started})
        raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> ChangeCursor:
        """Parse a cursor; a foreign or damaged one raises SyncStateLost (list everything again)."""
        if not text:
            return cls()
        try:
            raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            data = json.loads(raw)
            if data.get("v") != 1:
                raise ValueError("unknown cursor version")
            return cls(since=data["s"], seen=_unpack(data["seen"]), skip=data.get("k"),
                       tail=tuple(data.get("t", ())), next_since=data.get("ns"),
                       next_seen=_unpack(data.get("nseen", "")), quiet_before=data.get("q"),
                       started=data.get("st"))
        except (ValueError, KeyError, TypeError, zlib.error, struct.error) as exc:
            raise SyncStateLost("the ERP change cursor is not valid; list everything again",
                                code="invalidCursor") from exc
