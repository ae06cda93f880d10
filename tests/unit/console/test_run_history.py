"""Runs per hour: the pure counting and the 24-hour window (the store part runs in the browser test)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.admin.run_history import count_run, last_day
from shared.domain.status import RunState

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_counting_starts_over_in_a_new_hour_of_the_same_slot() -> None:
    slot = count_run(None, "2026-12-01T09", RunState.SUCCEEDED)
    slot = count_run(slot, "2026-12-01T09", RunState.FAILED)
    assert slot == {"hour": "2026-12-01T09", "runs": 2, "failed": 1}
    assert count_run(slot, "2026-12-02T09", RunState.SUCCEEDED) == {"hour": "2026-12-02T09", "runs": 1, "failed": 0}


def test_the_last_day_is_24_hours_oldest_first_with_gaps_as_zero() -> None:
    slots = [{"hour": "2026-12-01T09", "runs": 3, "failed": 1}, {"hour": "2026-11-30T10", "runs": 5, "failed": 0},
             {"hour": "2026-11-30T09", "runs": 7, "failed": 7}]   # 24 h and more ago: outside
    hours = last_day(slots, NOW)
    assert len(hours) == 24
    assert hours[0].start == datetime(2026, 11, 30, 10, tzinfo=UTC) and hours[0].runs == 5
    assert (hours[-1].runs, hours[-1].failed) == (3, 1)
    assert sum(h.runs for h in hours) == 8
