"""Runs per hour: the pure counting per mailbox and the 24-hour window over every mailbox."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.admin.run_history import count_run, counted, last_day
from shared.domain.status import RunState

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_counting_per_hour_prunes_to_the_last_day() -> None:
    cases = [  # hours before, run at, state -> hours after
        (None, NOW, RunState.SUCCEEDED, {"2026-12-01T09": [1, 0]}),
        ({"2026-12-01T09": [1, 0]}, NOW, RunState.FAILED, {"2026-12-01T09": [2, 1]}),
        ({"2026-12-01T08": [4, 1]}, NOW, RunState.WARNING, {"2026-12-01T08": [4, 1], "2026-12-01T09": [1, 0]}),
        ({"2026-11-30T10": [3, 0]}, NOW, RunState.SUCCEEDED, {"2026-11-30T10": [3, 0], "2026-12-01T09": [1, 0]}),
        ({"2026-11-30T09": [3, 3]}, NOW, RunState.SUCCEEDED, {"2026-12-01T09": [1, 0]}),  # 24 h ago: dropped
    ]
    for before, at, state, after in cases:
        assert count_run(before, at, state) == after, (before, state)


def test_counted_changes_only_the_hours_of_a_waiting_document() -> None:
    doc = {"taken": True, "holder": None, "hours": {"2026-12-01T09": [1, 1]}}
    assert counted(RunState.FAILED, NOW)(doc) == {"taken": True, "holder": None, "hours": {"2026-12-01T09": [2, 2]}}


def test_the_last_day_adds_up_mailboxes_and_old_slots_oldest_first_with_gaps_as_zero() -> None:
    slots = [{"hour": "2026-12-01T09", "runs": 3, "failed": 1}, {"hour": "2026-11-30T10", "runs": 5, "failed": 0},
             {"hour": "2026-11-30T09", "runs": 7, "failed": 7}]   # 24 h and more ago: outside
    mailboxes = [{"2026-12-01T09": [2, 1], "2026-11-30T09": [9, 9]}, {"2026-12-01T08": [1, 0]}, {}]
    cases = [  # old slots, mailboxes' hours -> (first hour's runs, last hour's runs and failures, total runs)
        (slots, [], (5, (3, 1), 8)),
        ([], mailboxes, (0, (2, 1), 3)),
        (slots, mailboxes, (5, (5, 2), 11)),
        ([], [], (0, (0, 0), 0)),
    ]
    for old, hours, (first, last, total) in cases:
        day = last_day(old, NOW, hours)
        assert len(day) == 24 and day[0].start == datetime(2026, 11, 30, 10, tzinfo=UTC)
        assert (day[0].runs, (day[-1].runs, day[-1].failed), sum(h.runs for h in day)) == (first, last, total)
