"""How long each service had a request in flight during a span: where a run's wall time went.

A :class:`BusyClock` is told when a request to a service starts and ends (by :class:`TimedTransport`
under the Graph client's middleware, and by :class:`bench.stack.TableMeter` for Table Storage).
It keeps, per service and for all of them together, the time at least one request was in flight
(the union of the intervals, not their sum): a wall second no service was busy was spent in the
worker itself (its CPU, or an await on something unmeasured such as the ERP).
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

ANY = "any"


class BusyClock:
    """Busy seconds per service (and ``any``) since it was made; :meth:`snapshot` to take a span."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self._inflight: collections.Counter[str] = collections.Counter()
        self._since: dict[str, float] = {}
        self._busy: collections.Counter[str] = collections.Counter()
        self.requests: collections.Counter[str] = collections.Counter()

    def _start(self, key: str, now: float) -> None:
        if self._inflight[key] == 0:
            self._since[key] = now
        self._inflight[key] += 1

    def _end(self, key: str, now: float) -> None:
        self._inflight[key] -= 1
        if self._inflight[key] == 0:
            self._busy[key] += now - self._since.pop(key)

    @contextlib.contextmanager
    def request(self, service: str) -> Iterator[None]:
        """Count the block as a request of ``service`` in flight."""
        now = self.now()
        self.requests[service] += 1
        self._start(service, now)
        self._start(ANY, now)
        try:
            yield
        finally:
            now = self.now()
            self._end(service, now)
            self._end(ANY, now)

    def snapshot(self) -> dict[str, float]:
        """Busy seconds so far, the intervals still open counted up to now."""
        now = self.now()
        out = dict(self._busy)
        for key, since in self._since.items():
            out[key] = out.get(key, 0.0) + now - since
        return out

    def since(self, before: dict[str, float], wall: float) -> dict[str, Any]:
        """Busy seconds per service over the span from ``before`` and the wall no service filled."""
        now = self.snapshot()
        busy = {key: round(now.get(key, 0.0) - before.get(key, 0.0), 2) for key in now}
        return {"busy_s": busy, "no_request_in_flight_s": round(wall - busy.get(ANY, 0.0), 2)}


class TimedTransport(httpx.AsyncBaseTransport):
    """An httpx transport timing each request (headers sent until the body is read) on a clock."""

    def __init__(self, clock: BusyClock, service: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.clock, self.service = clock, service
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with self.clock.request(self.service):
            response = await self.inner.handle_async_request(request)
            await response.aread()   # the body kept on the response: the client's read finds it
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
