"""The Acumatica watermark arithmetic as pure ChangeCursor functions, table by table (like test_plan)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from shared.erp.cursor import MAX_SEEN, ChangeCursor, next_watermark, overlap_rows

A, B, C, D = (f"0000000{n}-0000-0000-0000-000000000000" for n in range(1, 5))
FIRST = ChangeCursor()
NEXT_RUN = ChangeCursor(since=1_000, seen={A: 1_500}, quiet_before=1_200)
MID_RUN = ChangeCursor(since=1_000, seen={A: 1_500}, skip=40, tail=(B, C), started=9_000, next_since=8_000,
                       next_seen={D: 8_500})


@pytest.mark.parametrize(("page_size", "rows"), [(1, 0), (3, 0), (4, 1), (40, 10), (64, 16), (500, 16)])
def test_overlap_rows(page_size: int, rows: int) -> None:
    assert overlap_rows(page_size) == rows


@pytest.mark.parametrize(("cursor", "page_size", "skip"), [
    (FIRST, 40, 0),                                  # a first page starts at the top
    (NEXT_RUN, 40, 0),                               # so does a new run
    (MID_RUN, 40, 30),                               # 40 consumed, 10 rows of overlap
    (MID_RUN, 3, 40),                                # tiny pages do not overlap
    (dataclasses.replace(MID_RUN, skip=5), 40, 0),   # never below 0
])
def test_page_skip(cursor: ChangeCursor, page_size: int, skip: int) -> None:
    assert cursor.page_skip(page_size) == skip


@pytest.mark.parametrize(("started", "since", "overlap", "expected"), [
    (None, None, 100, None),     # no server time, nothing yet: keep listing everything
    (None, 700, 100, 700),       # no server time: keep the watermark
    (5_000, None, 100, 4_900),   # first run: server time minus the overlap
    (5_000, 4_950, 100, 4_950),  # never earlier than the current watermark
    (5_000, 1_000, 100, 4_900),
])
def test_next_watermark(started: int | None, since: int | None, overlap: int, expected: int | None) -> None:
    assert next_watermark(started, since, overlap) == expected


@pytest.mark.parametrize(("cursor", "server_time", "expected"), [
    (FIRST, 5_000, (5_000, 4_900)),
    (NEXT_RUN, 5_000, (5_000, 4_900)),
    (NEXT_RUN, None, (None, 1_000)),
    (MID_RUN, 5_000, (9_000, 8_000)),  # mid-run: this run's first page decided both
])
def test_run_start(cursor: ChangeCursor, server_time: int | None, expected: tuple[int | None, int | None]) -> None:
    assert cursor.run_start(server_time, 100) == expected


@pytest.mark.parametrize(("cursor", "item", "stamp", "next_seen", "listed"), [
    (NEXT_RUN, A, 1_500, {}, True),       # same version the previous run returned in its window
    (NEXT_RUN, A, 1_600, {}, False),      # changed since
    (MID_RUN, B, 7_000, {}, True),        # in the previous page's tail, older than the next watermark
    (MID_RUN, B, 8_200, {}, False),       # in the tail but new: next_seen decides, and it does not know it
    (MID_RUN, B, 8_200, {B: 8_200}, True),
    (MID_RUN, D, 8_500, {D: 8_500}, True),  # returned earlier in this run
    (FIRST, C, 1, {}, False),
])
def test_listed_before(cursor: ChangeCursor, item: str, stamp: int, next_seen: Mapping[str, int],
                       listed: bool) -> None:
    assert cursor.listed_before(item, stamp, cursor.next_since, next_seen) is listed


@pytest.mark.parametrize(("cursor", "stamp", "reported"), [
    (FIRST, 5_000, False),                                      # a first listing reports no removal
    (NEXT_RUN, 1_100, False),                                   # changed before quiet_before: never linked
    (NEXT_RUN, 1_200, True),
    (dataclasses.replace(NEXT_RUN, quiet_before=None), 1_100, True),
])
def test_reports_left_scope(cursor: ChangeCursor, stamp: int, reported: bool) -> None:
    assert cursor.reports_left_scope(stamp) is reported


def test_after_a_full_page_the_listing_continues_with_a_tail() -> None:
    after = FIRST.after_page(page_size=4, skip=0, row_ids=[A, B, C, D.upper()], started=5_000, next_since=4_900,
                             next_seen={C: 4_950}, scoped_first=True)
    assert after == ChangeCursor(since=None, seen={}, skip=4, tail=(D,), started=5_000, next_since=4_900,
                                 next_seen={C: 4_950}, quiet_before=None)


def test_after_a_short_page_the_next_run_starts_at_the_watermark() -> None:
    after = MID_RUN.after_page(page_size=40, skip=30, row_ids=[A], started=9_000, next_since=8_000,
                               next_seen={D: 8_500, C: 7_000}, scoped_first=False)
    assert after == ChangeCursor(since=8_000, seen={D: 8_500})  # C is older than the watermark: forgotten
    first = FIRST.after_page(page_size=40, skip=0, row_ids=[], started=5_000, next_since=4_900, next_seen={},
                             scoped_first=True)
    assert first.quiet_before == 5_000 + 1_000_000  # the Date header has whole seconds


def test_after_page_caps_what_it_remembers() -> None:
    import uuid

    many = {str(uuid.UUID(int=n)): 10_000 + n for n in range(MAX_SEEN + 5)}
    after = FIRST.after_page(page_size=40, skip=0, row_ids=[], started=None, next_since=None, next_seen=many,
                             scoped_first=False)
    assert len(after.seen) == MAX_SEEN and after.since == 10_004  # raised past the forgotten ones
