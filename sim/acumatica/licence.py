"""The licence's request limits: requests per minute and concurrent requests (License Monitoring Console).

Acumatica queues every API request except sign-out. Above half of the per-minute limit a request
is delayed (paced so the minute's limit is not exceeded); above the concurrent-request limit it
waits for a free slot. A request that finds more than ``max_queue`` requests already waiting, or
that would wait longer than ``max_wait`` seconds, is refused with 429 — the licence's behaviour
as the Integration Development Guide describes it. Both limits are off (0) by default; the
benchmark turns them on (``--requests-per-minute``, ``--concurrent-requests``, or
``POST /_sim/licence``). ``time_scale`` shrinks the minute X-fold, like the Graph simulator's
throttling window. :meth:`Licence.counters` reports what the limits did.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from typing import Any

MINUTE = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    requests_per_minute: int = 0   # 0: unlimited
    concurrent_requests: int = 0   # 0: unlimited
    time_scale: float = 1.0
    max_queue: int = 20
    max_wait: float = 600.0        # seconds (scaled like the minute)

    @property
    def window(self) -> float:
        return MINUTE / self.time_scale


class Refused(Exception):
    """The request is refused with 429 (queue full or waited too long)."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Licence:
    """Admission of one request at a time: ``async with licence.admit(): ...``."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._started: collections.deque[float] = collections.deque()  # start times within the window
        self._running = 0
        self._waiting = 0
        self._free = asyncio.Condition()
        self.stats = {"admitted": 0, "delayed": 0, "refused": 0, "delay_seconds": 0.0, "peak_concurrent": 0}

    def configure(self, limits: Limits) -> None:
        self.limits = limits
        self.reset()

    def reset(self) -> None:
        self._started.clear()
        self.stats = {"admitted": 0, "delayed": 0, "refused": 0, "delay_seconds": 0.0, "peak_concurrent": 0}

    def counters(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self.limits), **self.stats, "running": self._running,
                "waiting": self._waiting}

    def _rate_delay(self, now: float) -> float:
        """How long a request starting now must wait to respect the per-minute limit."""
        limit, window = self.limits.requests_per_minute, self.limits.window
        if not limit:
            return 0.0
        while self._started and self._started[0] <= now - window:
            self._started.popleft()
        if len(self._started) >= limit:
            return self._started[len(self._started) - limit] + window - now
        if len(self._started) < limit // 2 or not self._started:
            return 0.0
        # above half the limit: pace the remaining requests evenly over the rest of the window
        spacing = window / limit
        return max(0.0, self._started[-1] + spacing - now)

    def admit(self) -> _Admission:
        return _Admission(self)

    async def _enter(self) -> None:
        limits = self.limits
        if self._waiting >= limits.max_queue and (limits.requests_per_minute or limits.concurrent_requests):
            self._refuse(f"more than {limits.max_queue} requests are queued")
        self._waiting += 1
        waited = 0.0
        try:
            delay = self._rate_delay(time.monotonic())
            while delay > 0:
                if waited + delay > limits.max_wait / limits.time_scale:
                    self._refuse("the request would wait longer than the licence allows")
                self.stats["delayed"] += 1 if waited == 0 else 0
                await asyncio.sleep(delay)
                waited += delay
                delay = self._rate_delay(time.monotonic())
            self._started.append(time.monotonic())
            if limits.concurrent_requests:
                async with self._free:
                    await self._free.wait_for(lambda: self._running < limits.concurrent_requests)
                    self._running += 1
            else:
                self._running += 1
        finally:
            self._waiting -= 1
        self.stats["delay_seconds"] += waited
        self.stats["admitted"] += 1
        self.stats["peak_concurrent"] = max(self.stats["peak_concurrent"], self._running)

    async def _leave(self) -> None:
        async with self._free:
            self._running -= 1
            self._free.notify_all()

    def _refuse(self, reason: str) -> None:
        self.stats["refused"] += 1
        raise Refused(f"API request limit exceeded: {reason}", self.limits.window / max(1, self.limits.max_queue))


class _Admission:
    def __init__(self, licence: Licence) -> None:
        self._licence = licence

    async def __aenter__(self) -> None:
        await self._licence._enter()

    async def __aexit__(self, *exc: object) -> None:
        await self._licence._leave()
