"""Per-mailbox pacing of Graph requests, as kiota middleware.

Graph throttles per app per mailbox: 10,000 requests per 10 minutes and 4 concurrent requests.
Rather than collect 429s, every request that reaches the wire is paced here, per mailbox:

- a weighted semaphore keeps at most ``concurrency`` requests in flight (a ``$batch`` takes
  ``min(len(batch), concurrency)`` slots: Outlook runs a batch's items up to 4 at a time);
- a token bucket keeps any window of ``window_seconds`` under ``headroom`` (90 %) of
  ``requests`` (each batched request costs one token): capacity a tenth of that, refill so
  capacity + refill over one window never exceeds it (the margin absorbs requests that the
  network bunches up on the way, and clock differences);
- a 429/503 ``Retry-After`` pauses the whole mailbox, not only the request that got it.

The middleware sits innermost in the kiota pipeline, under the RetryHandler, so every retry is
paced too. The mailbox comes from a :class:`PacingOption` on the request (the gateway sets it),
else from the ``/users/{id}/`` segment of the URL; requests without one pass unpaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import unquote

import httpx
from kiota_abstractions.request_option import RequestOption
from kiota_http.middleware.middleware import REQUEST_OPTIONS_KEY, BaseMiddleware

logger = logging.getLogger(__name__)

_USER_SEGMENT = re.compile(r"/users/([^/?]+)", re.IGNORECASE)
_OWN_KEY = "exsync_pacing"


@dataclasses.dataclass(frozen=True, slots=True)
class PacingPolicy:
    """The per-mailbox budget (Graph's Outlook limits by default)."""

    requests: int = 10_000
    window_seconds: float = 600.0
    concurrency: int = 4
    headroom: float = 0.9     # share of the budget we plan to use: client and server clocks differ

    @property
    def usable(self) -> float:
        return self.requests * self.headroom

    def __post_init__(self) -> None:
        if self.requests < 1:
            raise ValueError("PacingPolicy.requests: expected a positive request count")
        if self.window_seconds <= 0:
            raise ValueError("PacingPolicy.window_seconds: expected seconds > 0")
        if self.concurrency < 1:
            raise ValueError("PacingPolicy.concurrency: expected at least 1")
        if not 0 < self.headroom <= 1:
            raise ValueError("PacingPolicy.headroom: expected a share in (0, 1]")


class PacingOption(RequestOption):  # type: ignore[misc]
    """Names the mailbox a request counts against and its cost (batched requests)."""

    KEY = "ExsyncPacingOption"

    def __init__(self, mailbox: str, cost: int = 1) -> None:
        self.mailbox = mailbox.lower()
        self.cost = max(1, cost)

    @staticmethod
    def get_key() -> str:
        return PacingOption.KEY


@dataclasses.dataclass
class MailboxStats:
    """What the pacer saw for one mailbox (requests sent, counted batched items, 429s)."""

    requests: int = 0
    cost: int = 0
    throttled: int = 0
    waited_seconds: float = 0.0


class MailboxPacer:
    """Concurrency slots, token bucket and Retry-After pause of one mailbox."""

    def __init__(self, policy: PacingPolicy) -> None:
        self.policy = policy
        self.capacity = max(1.0, policy.usable / 10)
        self.rate = (policy.usable - self.capacity) / policy.window_seconds or 1e-9
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.free = policy.concurrency
        self.paused_until = 0.0
        self.cond = asyncio.Condition()
        self.bucket_lock = asyncio.Lock()
        self.stats = MailboxStats()

    def pause(self, seconds: float) -> None:
        """Hold every request of this mailbox for ``seconds`` (a Retry-After)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    async def _wait_pause(self) -> None:
        while (delay := self.paused_until - time.monotonic()) > 0:
            self.stats.waited_seconds += delay
            await asyncio.sleep(delay)

    async def _take_tokens(self, cost: int) -> None:
        cost_f = min(float(cost), self.capacity)
        async with self.bucket_lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= cost_f:
                    self.tokens -= cost_f
                    return
                delay = (cost_f - self.tokens) / self.rate
                self.stats.waited_seconds += delay
                await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def slot(self, cost: int) -> AsyncIterator[None]:
        """Wait for the pause, the budget and ``min(cost, concurrency)`` in-flight slots."""
        await self._wait_pause()
        await self._take_tokens(cost)
        need = min(cost, self.policy.concurrency)
        async with self.cond:
            await self.cond.wait_for(lambda: self.free >= need)
            self.free -= need
        try:
            await self._wait_pause()
            self.stats.requests += 1
            self.stats.cost += cost
            yield
        finally:
            async with self.cond:
                self.free += need
                self.cond.notify_all()


class Pacer:
    """Pacers by mailbox (lower-cased id or UPN)."""

    def __init__(self, policy: PacingPolicy | None = None) -> None:
        self.policy = policy or PacingPolicy()
        self._mailboxes: dict[str, MailboxPacer] = {}

    def mailbox(self, key: str) -> MailboxPacer:
        key = key.lower()
        pacer = self._mailboxes.get(key)
        if pacer is None:
            pacer = self._mailboxes[key] = MailboxPacer(self.policy)
        return pacer

    def stats(self) -> dict[str, MailboxStats]:
        return {key: dataclasses.replace(p.stats) for key, p in self._mailboxes.items()}


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (numeric form only; Graph sends seconds)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _option_of(request: httpx.Request) -> PacingOption | None:
    own = request.extensions.get(_OWN_KEY)
    if isinstance(own, PacingOption):
        return own
    options = request.extensions.get(REQUEST_OPTIONS_KEY) or {}
    option = options.get(PacingOption.KEY)
    if not isinstance(option, PacingOption):
        match = _USER_SEGMENT.search(request.url.path)
        if match is None:
            return None
        option = PacingOption(unquote(match.group(1)).strip("'"))
    request.extensions[_OWN_KEY] = option  # kiota drops its options before the wire; keep ours
    return option


class PacingHandler(BaseMiddleware):  # type: ignore[misc]
    """Kiota middleware pacing each request through its mailbox's :class:`MailboxPacer`."""

    def __init__(self, pacer: Pacer) -> None:
        super().__init__()
        self.pacer = pacer

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        option = _option_of(request)
        if option is None:
            return cast(httpx.Response, await super().send(request, transport))
        mailbox = self.pacer.mailbox(option.mailbox)
        async with mailbox.slot(option.cost):
            response: httpx.Response = await super().send(request, transport)
        if response.status_code in (429, 503):
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if response.status_code == 429:
                mailbox.stats.throttled += 1
                logger.info("Graph throttled mailbox %s (Retry-After %s)", option.mailbox, wait)
            if wait:
                mailbox.pause(wait)
        return response
