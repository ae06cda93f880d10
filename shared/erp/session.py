"""One Acumatica API session over httpx: cookie login, re-login on 401, backoff on 429/503.

Acumatica licences a small number of concurrent API users (sessions); an abandoned session
holds its slot for ~10 minutes. So a :class:`AcumaticaSession` logs in lazily once, reuses the
cookie for every request, logs in again only when the server answers 401 (session expired),
and always logs out in :meth:`aclose`. A login refused with 429 ("API Login Limit") and
requests answered 429/503 are retried after ``Retry-After`` (or an exponential backoff) up to
``max_retries`` times, then surface as :class:`~shared.errors.Throttled`.

The licence also caps concurrent API requests (per tenant, not per session): every request of a
session waits for one of its :class:`RequestSlots`, which the sessions of one process share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.errors import AuthenticationFailed, RemoteError, Throttled, ValidationFailed

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
RETRYABLE = (429, 503)


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


MAX_CONCURRENT_REQUESTS = 8
"""Requests in flight at once by default: under the concurrent-request limit of common licences (10)."""


class RequestSlots:
    """At most ``limit`` requests in flight at once across the sessions sharing it (one event loop
    at a time: the semaphore is made for the loop that uses it). ``peak`` is the most seen."""

    def __init__(self, limit: int = MAX_CONCURRENT_REQUESTS) -> None:
        if limit < 1:
            raise ValidationFailed({"EXSYNC_ERP_MAX_CONCURRENT_REQUESTS": f"expected at least 1, got {limit}"})
        self.limit = limit
        self.peak = 0
        self._running = 0
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop, self._running = asyncio.Semaphore(self.limit), loop, 0
        async with self._semaphore:
            self._running += 1
            self.peak = max(self.peak, self._running)
            try:
                yield
            finally:
                self._running -= 1


ORPHAN_TIMEOUT = timedelta(minutes=10)
"""How long Acumatica keeps a session that was never logged out (its default session timeout)."""


def licence_held_message(reason: str, now: datetime) -> str:
    """Why a login was refused: the licence's API sessions are all held, e.g. by orphaned ones."""
    until = (now + ORPHAN_TIMEOUT).strftime("%H:%M")
    return (f"Acumatica refused the login ({reason}): every API session the licence allows is held, "
            "most likely by orphaned sessions of a process that stopped without logging out; they "
            f"expire after {ORPHAN_TIMEOUT.seconds // 60} minutes idle (by about {until} UTC), then the "
            "next run logs in. Lower EXSYNC_ERP_MAX_SESSIONS if other API users need sessions too")


def error_message(response: httpx.Response) -> str:
    """The most useful text of an ``HttpError`` body (or the raw text)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, Mapping):
        return str(body.get("exceptionMessage") or body.get("message") or body.get("error") or body)[:500]
    return str(body)[:300]


class AcumaticaSession:
    """An authenticated HTTP session with one Acumatica tenant."""

    def __init__(self, base_url: str, *, username: str, password: str, tenant: str,
                 http_client: httpx.AsyncClient | None = None, max_retries: int = 5,
                 backoff: float = 1.0, max_wait: float = 60.0, sleep: Sleep = asyncio.sleep,
                 slots: RequestSlots | None = None) -> None:
        """``slots``: the concurrent-request bound shared with other sessions (else its own)."""
        self._base = base_url.rstrip("/")
        self.slots = slots or RequestSlots()
        self._credentials = {"name": username, "password": password, "tenant": tenant}
        self._client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self._owns_client = http_client is None
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_wait = max_wait
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._logged_in = False
        self._generation = 0  # bumps on every login, so concurrent 401s log in only once
        self.logins = 0

    @property
    def logged_in(self) -> bool:
        return self._logged_in

    def url(self, path: str) -> str:
        return f"{self._base}{path}" if path.startswith("/") else path

    async def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        delay = retry_after(response) if response is not None else None
        if delay is None:
            delay = self._backoff * (2 ** attempt)
        await self._sleep(min(delay, self._max_wait))

    async def login(self, seen_generation: int | None = None) -> None:
        """Log in unless another task already did since ``seen_generation``."""
        async with self._lock:
            if self._logged_in and (seen_generation is None or seen_generation != self._generation):
                return
            for attempt in range(self._max_retries + 1):
                try:
                    response = await self._client.post(self.url("/entity/auth/login"), json=self._credentials)
                except httpx.TransportError as exc:
                    if attempt == self._max_retries:
                        raise RemoteError(f"Acumatica login failed: {exc}") from exc
                    await self._wait(attempt, None)
                    continue
                if response.status_code in (200, 204):
                    self._logged_in = True
                    self._generation += 1
                    self.logins += 1
                    logger.info("logged in to Acumatica at %s", self._base)
                    return
                if response.status_code in RETRYABLE and attempt < self._max_retries:
                    logger.warning("Acumatica login refused (%s, %s); retrying", response.status_code,
                                   error_message(response))
                    await self._wait(attempt, response)
                    continue
                if response.status_code in RETRYABLE:
                    raise Throttled(licence_held_message(error_message(response), datetime.now(UTC)),
                                    retry_after=retry_after(response), status=response.status_code)
                raise AuthenticationFailed(
                    f"Acumatica rejected the login for user {self._credentials['name']!r} on tenant "
                    f"{self._credentials['tenant']!r}: {error_message(response)}; check the ERP "
                    "credentials of the server configuration", status=response.status_code)

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      json: Any = None, content: bytes | None = None, headers: Mapping[str, str] | None = None,
                      idempotent: bool = True) -> httpx.Response:
        """Send one request in the session; 401 logs in again once, 429/503 are retried."""
        if not self._logged_in:
            await self.login()
        relogged = False
        attempt = 0
        while True:
            generation = self._generation
            try:
                async with self.slots.slot():
                    response = await self._client.request(method, self.url(path), params=params, json=json,
                                                          content=content, headers=dict(headers or {}))
            except httpx.TransportError as exc:
                if not idempotent or attempt >= self._max_retries:
                    raise RemoteError(f"Acumatica {method} {path} failed: {type(exc).__name__}") from exc
                await self._wait(attempt, None)
                attempt += 1
                continue
            if response.status_code == 401 and not relogged:
                relogged = True
                logger.info("Acumatica session expired; logging in again")
                await self.login(seen_generation=generation)
                continue
            if response.status_code == 401:
                raise AuthenticationFailed("Acumatica answered 401 right after a fresh login", status=401)
            if response.status_code in RETRYABLE and attempt < self._max_retries:
                logger.info("Acumatica %s %s answered %s; retrying", method, path, response.status_code)
                await self._wait(attempt, response)
                attempt += 1
                continue
            if response.status_code in RETRYABLE:
                raise Throttled(f"Acumatica {method} {path}: {error_message(response)}",
                                retry_after=retry_after(response), status=response.status_code)
            return response

    async def aclose(self) -> None:
        """Log out (freeing the API-user licence) and close the client we created."""
        try:
            if self._logged_in:
                self._logged_in = False
                try:
                    await self._client.post(self.url("/entity/auth/logout"))
                    logger.info("logged out of Acumatica at %s", self._base)
                except httpx.HTTPError as exc:
                    logger.warning("Acumatica logout failed: %s", type(exc).__name__)
        finally:
            if self._owns_client:
                await self._client.aclose()
