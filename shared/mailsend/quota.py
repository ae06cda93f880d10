"""A system mailbox's use of Exchange's sending limits, as one small JSON document.

Kept on the DocumentStore (kind ``mailsend_quota``, key the mailbox): the times of the sends of the
last minute (at most 30 entries) and the recipients per 10-minute bucket of the last 24 hours (at
most 145 buckets). A bucket counts until its *end* leaves the window, so the day's count errs on
the high side: exsync waits a little early rather than hit Exchange's limit. Pure: the executor
loads and stores the document.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.mailsend.decide import DAY_RECIPIENTS, MINUTE_MESSAGES, Usage

KIND = "mailsend_quota"
MINUTE = timedelta(minutes=1)
DAY = timedelta(hours=24)
BUCKET = timedelta(minutes=10)
WARN_AT = 0.8


def _bucket(moment: datetime) -> int:
    return int(moment.timestamp() // BUCKET.total_seconds())


def _start(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * BUCKET.total_seconds(), UTC)


@dataclasses.dataclass
class Quota:
    sends: list[datetime] = dataclasses.field(default_factory=list)
    buckets: dict[int, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_doc(cls, value: dict[str, Any] | None) -> Quota:
        value = value or {}
        return cls([datetime.fromisoformat(t) for t in value.get("sends", [])],
                   {int(k): int(v) for k, v in (value.get("buckets") or {}).items()})

    def to_doc(self) -> dict[str, Any]:
        return {"sends": [t.isoformat() for t in self.sends], "buckets": {str(k): v for k, v in self.buckets.items()}}

    def _prune(self, now: datetime) -> None:
        self.sends = [t for t in self.sends if t > now - MINUTE][-MINUTE_MESSAGES:]
        self.buckets = {b: n for b, n in self.buckets.items() if _start(b) + BUCKET > now - DAY}

    def record(self, now: datetime, recipients: int) -> None:
        self._prune(now)
        self.sends.append(now)
        bucket = _bucket(now)
        self.buckets[bucket] = self.buckets.get(bucket, 0) + recipients

    def usage(self, now: datetime, wanted: int = 1) -> Usage:
        """The counts Exchange would see now, and when a message (of ``wanted`` recipients) fits."""
        self._prune(now)
        minute = len(self.sends)
        minute_free = self.sends[-MINUTE_MESSAGES] + MINUTE if minute >= MINUTE_MESSAGES else None
        day = sum(self.buckets.values())
        day_free = None
        if day + wanted > DAY_RECIPIENTS:
            left = day
            for bucket in sorted(self.buckets):
                left -= self.buckets[bucket]
                if left + wanted <= DAY_RECIPIENTS:
                    day_free = _start(bucket) + BUCKET + DAY
                    break
        return Usage(minute, day, minute_free, day_free)


def status(usage: Usage) -> dict[str, Any]:
    """What the system mailbox status shows: use of each limit and the warning at 80 % of the day's
    recipients (the message rate is paced by design, so it has no warning)."""
    day_share = usage.day_recipients / DAY_RECIPIENTS
    warning = (f"{usage.day_recipients} recipients in 24 hours: {day_share:.0%} of Exchange's limit of "
               f"{DAY_RECIPIENTS}; mail waits once it is reached") if day_share >= WARN_AT else None
    return {"messages_last_minute": usage.minute_messages, "messages_per_minute_limit": MINUTE_MESSAGES,
            "recipients_last_24h": usage.day_recipients, "recipients_per_day_limit": DAY_RECIPIENTS,
            "day_share": round(day_share, 4), "warning": warning}
