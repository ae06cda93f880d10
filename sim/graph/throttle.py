"""Graph's mailbox throttling: per (app, mailbox) a sliding window of requests and a concurrency cap.

Defaults are Graph's Outlook limits (10,000 requests per 10 minutes, 4 concurrent, 150 MB uploaded
per 5 minutes). ``time_scale`` shrinks the windows (and so the Retry-After) X-fold. The per-request
cost is a deque append and an amortised pop, well under a millisecond.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque

Key = tuple[str, str]


@dataclasses.dataclass
class Limits:
    requests: int = 10_000
    window_s: float = 600.0
    concurrency: int = 4
    upload_bytes: int = 150 * 1024 * 1024
    upload_window_s: float = 300.0


@dataclasses.dataclass
class Counter:
    requests: int = 0
    throttled: int = 0


class Throttle:
    def __init__(self, limits: Limits | None = None, time_scale: float = 1.0) -> None:
        self.defaults = dataclasses.replace(limits or Limits())
        self.limits = dataclasses.replace(self.defaults)
        self.time_scale = time_scale
        self._windows: dict[Key, deque[float]] = {}
        self._inflight: dict[Key, int] = {}
        self._uploads: dict[Key, deque[tuple[float, int]]] = {}
        self.counters: dict[str, Counter] = {}

    @property
    def window(self) -> float:
        return self.limits.window_s / self.time_scale

    def acquire(self, key: Key) -> tuple[int, str] | None:
        """Take a slot; ``None`` when admitted, else the Retry-After in whole seconds and the reason."""
        counter = self.counters.setdefault(key[1], Counter())
        counter.requests += 1
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        cutoff = now - self.window
        while window and window[0] <= cutoff:
            window.popleft()
        inflight = self._inflight.get(key, 0)
        if inflight >= self.limits.concurrency:
            counter.throttled += 1
            return max(1, math.ceil(1.0 / self.time_scale)), "Application is over its MailboxConcurrency limit."
        if len(window) >= self.limits.requests:
            counter.throttled += 1
            return (max(1, math.ceil(window[0] + self.window - now)),
                    "Application is over its resource limit of requests per mailbox.")
        window.append(now)
        self._inflight[key] = inflight + 1
        return None

    def upload(self, key: Key, size: int) -> int | None:
        """Charge ``size`` uploaded bytes; ``None`` when within budget, else the Retry-After in seconds."""
        now = time.monotonic()
        window = self.limits.upload_window_s / self.time_scale
        spent = self._uploads.setdefault(key, deque())
        while spent and spent[0][0] <= now - window:
            spent.popleft()
        if sum(n for _, n in spent) + size > self.limits.upload_bytes:
            self.counters.setdefault(key[1], Counter()).throttled += 1
            return max(1, math.ceil(spent[0][0] + window - now)) if spent else 1
        spent.append((now, size))
        return None

    def release(self, key: Key) -> None:
        self._inflight[key] = max(0, self._inflight.get(key, 1) - 1)

    def reset(self) -> None:
        self.limits = dataclasses.replace(self.defaults)
        self._windows.clear()
        self._uploads.clear()
        self.counters.clear()
