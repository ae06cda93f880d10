"""Six-field NCRONTAB expressions (``sec min hour day month weekday``), as Azure Functions uses.

Supports ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists ``a,b`` and the
three-letter month and weekday names. Used to decide which servers are due on a scheduler tick.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from shared.errors import ValidationFailed

_MONTHS = {n: i for i, n in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DAYS = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES: tuple[dict[str, int], ...] = ({}, {}, {}, {}, _MONTHS, _DAYS)


def _value(text: str, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    return int(text)


def _field(text: str, index: int) -> frozenset[int]:
    low, high = _BOUNDS[index]
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError("step must be at least 1")
        if rng == "*":
            start, stop = low, high
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, stop = _value(a, _NAMES[index]), _value(b, _NAMES[index])
        else:
            start = _value(rng, _NAMES[index])
            stop = high if step_text else start
        if index == 5 and stop == 7:  # 7 is Sunday too
            stop = 6
            out.add(0)
        if not (low <= start <= high and low <= stop <= high and start <= stop):
            raise ValueError(f"{part!r} is outside {low}-{high}")
        out.update(range(start, stop + 1, step))
    return frozenset(out)


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed NCRONTAB schedule."""

    expression: str
    fields: tuple[frozenset[int], ...]

    @classmethod
    def parse(cls, expression: str, *, field: str = "schedule") -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ValidationFailed({field: "expected six fields 'sec min hour day month weekday', "
                                           "e.g. '0 */5 * * * *'"})
        try:
            return cls(expression, tuple(_field(p, i) for i, p in enumerate(parts)))
        except ValueError as exc:
            raise ValidationFailed({field: f"invalid NCRONTAB expression: {exc}"}) from exc

    def matches(self, at: datetime) -> bool:
        sec, minute, hour, day, month, dow = self.fields
        weekday = (at.weekday() + 1) % 7  # Python Monday=0 -> cron Sunday=0
        return (at.second in sec and at.minute in minute and at.hour in hour and at.day in day
                and at.month in month and weekday in dow)

    def next_after(self, after: datetime, *, horizon: timedelta = timedelta(days=366)) -> datetime | None:
        """The first firing time strictly after ``after`` (None within ``horizon``)."""
        at = after.replace(microsecond=0) + timedelta(seconds=1)
        end = after + horizon
        sec, minute, hour, day, month, _ = self.fields
        while at <= end:
            if at.month not in month:
                at = (at.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
            elif at.day not in day or not self.matches(at.replace(hour=min(hour), minute=min(minute),
                                                                  second=min(sec))):
                at = at.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif at.hour not in hour:
                at = at.replace(minute=0, second=0) + timedelta(hours=1)
            elif at.minute not in minute:
                at = at.replace(second=0) + timedelta(minutes=1)
            elif at.second not in sec:
                at += timedelta(seconds=1)
            else:
                return at
        return None

    def due(self, last: datetime | None, now: datetime) -> bool:
        """True when the schedule fired in ``(last, now]`` (always True without a ``last``)."""
        if last is None:
            return True
        nxt = self.next_after(last, horizon=now - last + timedelta(seconds=1))
        return nxt is not None and nxt <= now
