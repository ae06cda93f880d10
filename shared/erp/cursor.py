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
from collections.abc import Mapping, Sequence
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

    # ------------------------------------------------------------ listing arithmetic (pure)

    def page_skip(self, page_size: int) -> int:
        """``$skip`` of the next page: rows consumed minus the overlap margin (0 for a first page)."""
        if not self.in_run:
            return 0
        return max(0, (self.skip or 0) - overlap_rows(page_size))

    def run_start(self, server_time: int | None, overlap: int) -> tuple[int | None, int | None]:
        """``(started, next_since)`` of this run: kept mid-run, else from the first page's server time."""
        if self.in_run:
            return self.started, self.next_since
        return server_time, next_watermark(server_time, self.since, overlap)

    def listed_before(self, item_id: str, stamp: int, next_since: int | None,
                      next_seen: Mapping[str, int]) -> bool:
        """The row was returned already: the previous page's tail (unless ``next_seen`` knows it),
        or the same version in the previous run's window or earlier in this run."""
        in_tail = item_id in self.tail and (next_since is None or stamp < next_since)
        return in_tail or self.seen.get(item_id) == stamp or next_seen.get(item_id) == stamp

    def reports_left_scope(self, stamp: int) -> bool:
        """An incremental listing reports a record outside the scope as removed, except one changed
        before ``quiet_before`` (never linked: the first listing filtered on scope server-side)."""
        return self.since is not None and (self.quiet_before is None or stamp >= self.quiet_before)

    def after_page(self, *, page_size: int, skip: int, row_ids: Sequence[str], started: int | None,
                   next_since: int | None, next_seen: Mapping[str, int], scoped_first: bool) -> ChangeCursor:
        """The cursor after a page of ``row_ids`` (all rows returned, in order).

        A short page ends the listing: the next run starts at ``next_since`` remembering what it
        returned at or after it (``quiet_before`` set after a scope-filtered first listing). A full
        page continues it: ``skip`` advances, the last ``overlap_rows`` ids become the tail.
        """
        if len(row_ids) < page_size:
            keep, since = cap_seen({i: s for i, s in next_seen.items() if next_since is None or s >= next_since},
                                   next_since)
            quiet = started + 1_000_000 if scoped_first and started is not None else None  # Date: whole seconds
            return ChangeCursor(since=since, seen=keep, quiet_before=quiet)
        capped, since = cap_seen(next_seen, next_since)
        margin = overlap_rows(page_size)
        tail = tuple(i.lower() for i in row_ids[-margin:]) if margin else ()
        return ChangeCursor(since=self.since, seen=self.seen, skip=skip + len(row_ids),
                            quiet_before=self.quiet_before, started=started, tail=tail,
                            next_since=since, next_seen=capped)


def overlap_rows(page_size: int) -> int:
    """How many rows consecutive pages overlap (deletions between pages shift rows backwards)."""
    return min(page_size // 4, 16)


def next_watermark(started: int | None, since: int | None, overlap: int) -> int | None:
    """The next run's watermark: this run's first server time minus the overlap, never going back."""
    if started is None:
        return since
    watermark = started - overlap
    return watermark if since is None else max(watermark, since)
