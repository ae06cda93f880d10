"""The tenant's signing keys (JWKS), cached, refreshed on rotation.

Invariants:

- Keys are fetched at most once per ``max_age`` while every token names a known ``kid``.
- A token naming an unknown ``kid`` (Entra rotated its keys) refetches the set once; a second
  unknown ``kid`` within ``min_refresh`` does not refetch again, so forged tokens with random key
  ids cannot make us hammer the key endpoint.
- A failed fetch keeps the keys we have (an outage of the key endpoint does not log everyone out
  until ``max_age`` runs out twice); with no keys at all it raises :class:`KeysUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from shared.errors import RemoteError

logger = logging.getLogger(__name__)

Monotonic = Callable[[], float]


class KeysUnavailable(RemoteError):
    """The signing keys could not be fetched and none are cached."""


class JwksCache:
    """Signing keys of one JWKS URL by ``kid``; :func:`cache_for` gives the process's one per URL."""

    def __init__(self, url: str, *, max_age: float = 3600.0, min_refresh: float = 60.0,
                 http_client: httpx.AsyncClient | None = None, clock: Monotonic = time.monotonic) -> None:
        self.url = url
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._client = http_client
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str) -> PyJWK | None:
        """The key for ``kid``, or None when the (refreshed) set does not have it."""
        if self._stale():
            await self._refresh(force=False)
        found = self._keys.get(kid)
        if found is None and self._may_refresh():
            await self._refresh(force=True)
            found = self._keys.get(kid)
        return found

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._min_refresh

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and not self._stale():
                return  # another request refreshed meanwhile
            if force and not self._may_refresh():
                return
            try:
                data = await self._fetch()
                keys = self._parse(data)
            except (httpx.HTTPError, ValueError, PyJWKError, PyJWKSetError) as exc:
                self._fetched_at = self._clock()  # do not retry on every request
                if not self._keys:
                    raise KeysUnavailable(f"cannot read the signing keys at {self.url}: "
                                          f"{type(exc).__name__}: {exc}") from exc
                logger.warning("refreshing the signing keys at %s failed (%s); keeping %d cached key(s)",
                               self.url, type(exc).__name__, len(self._keys))
                return
            self._keys = keys
            self._fetched_at = self._clock()
            logger.info("signing keys refreshed from %s: %d key(s)", self.url, len(keys))

    async def _fetch(self) -> Any:
        self.fetches += 1
        if self._client is not None:
            response = await self._client.get(self.url)
        else:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.get(self.url)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def _parse(data: Any) -> dict[str, PyJWK]:
        if not isinstance(data, dict):
            raise ValueError("the key set is not a JSON object")
        key_set = PyJWKSet.from_dict(data)
        return {key.key_id: key for key in key_set.keys if key.key_id}


_CACHES: dict[str, JwksCache] = {}


def cache_for(url: str) -> JwksCache:
    """The process's key cache of ``url``: the add-in's access tokens and the console's ID tokens of
    one tenant share it, so a key rotation is fetched once for both."""
    found = _CACHES.get(url)
    if found is None:
        found = _CACHES[url] = JwksCache(url)
    return found
