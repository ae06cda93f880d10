"""Table-driven tests of the hand-over table: every branch, and how a stored cursor is classified."""

from __future__ import annotations

import itertools

import pytest

from shared.sync import feed
from shared.sync.handover import Completion, Pass, Rows, Start, decide, mark_of, start_of

CASES = [
    # start, feed on, watermark exists -> pass, rows, completion
    (Start.FOLLOWS, True, True, Pass.ROUTED, Rows.CONSUME, Completion.FOLLOW),
    (Start.FOLLOWS, True, False, Pass.ROUTED, Rows.CONSUME, Completion.FOLLOW),
    (Start.FOLLOWS, False, False, Pass.OWN_FULL, Rows.KEEP, Completion.STAY),
    (Start.FULL, False, False, Pass.OWN_FULL, Rows.KEEP, Completion.STAY),
    (Start.FRESH, False, False, Pass.OWN, Rows.KEEP, Completion.STAY),
    (Start.MARKED, False, False, Pass.OWN, Rows.KEEP, Completion.STAY),
    (Start.UNMARKED, False, False, Pass.OWN, Rows.KEEP, Completion.STAY),
    (Start.FULL, True, False, Pass.OWN_FULL, Rows.KEEP, Completion.STAY),
    (Start.FRESH, True, False, Pass.OWN, Rows.KEEP, Completion.STAY),
    (Start.UNMARKED, True, False, Pass.OWN, Rows.KEEP, Completion.STAY),
    (Start.FULL, True, True, Pass.OWN_FULL, Rows.SUPERSEDE, Completion.FOLLOW),
    (Start.FRESH, True, True, Pass.OWN, Rows.SUPERSEDE, Completion.FOLLOW),
    (Start.MARKED, True, True, Pass.OWN, Rows.KEEP, Completion.FOLLOW),
    (Start.UNMARKED, True, True, Pass.OWN, Rows.KEEP, Completion.MARK),
]


@pytest.mark.parametrize(("start", "feed_on", "exists", "pass_", "rows", "completion"), CASES)
def test_the_table(start: Start, feed_on: bool, exists: bool, pass_: Pass, rows: Rows,
                   completion: Completion) -> None:
    decision = decide(start, feed_on, exists)
    assert (decision.pass_, decision.rows, decision.completion) == (pass_, rows, completion), decision.why


@pytest.mark.parametrize(("start", "feed_on", "exists"), itertools.product(Start, (True, False), (True, False)))
def test_every_input_keeps_the_hand_over_rules(start: Start, feed_on: bool, exists: bool) -> None:
    decision = decide(start, feed_on, exists)
    # rows are dropped only by a fresh own listing, while the feed exists for it to hand over to
    if decision.rows is Rows.SUPERSEDE:
        assert feed_on and exists and start in (Start.FULL, Start.FRESH)
    # only a listing that began while the watermark existed hands over; never with the feed off
    if decision.completion is Completion.FOLLOW and decision.pass_ is not Pass.ROUTED:
        assert feed_on and exists and start is not Start.UNMARKED
    if not feed_on:
        assert decision.pass_ is not Pass.ROUTED and decision.completion is Completion.STAY
    # a stored FOLLOWS with the feed on is consumed, never listed
    assert (decision.rows is Rows.CONSUME) == (start is Start.FOLLOWS and feed_on)


@pytest.mark.parametrize(("cursor", "mark", "expected"), [
    (feed.FOLLOWS, None, Start.FOLLOWS),
    (feed.FOLLOWS, mark_of(feed.FOLLOWS), Start.FOLLOWS),
    (None, None, Start.FULL),
    (None, "1", Start.FULL),
    ("w1", None, Start.UNMARKED),
    ("w1", mark_of("w1"), Start.FRESH),
    ("w2", mark_of("w1"), Start.MARKED),      # resumed from a mid-listing cursor
    ("w1", "1", Start.MARKED),                # an earlier version's mark never names a cursor
])
def test_a_stored_cursor_is_classified(cursor: str | None, mark: str | None, expected: Start) -> None:
    assert start_of(cursor, mark, feed.FOLLOWS) is expected


def test_the_mark_is_small_and_names_one_cursor() -> None:
    big = "x" * 100_000
    assert len(mark_of(big)) < 40 and mark_of(big) != mark_of(big + "y") and mark_of(None) == mark_of("")
