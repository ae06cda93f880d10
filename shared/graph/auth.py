"""Credentials for local runs against the Graph simulator.

The simulator accepts any bearer token (a JWT's ``appid`` claim keys its throttling budget), so
local runs, tests, the demo and benchmarks use :class:`StaticTokenCredential` instead of Entra ID.
Production passes a real ``azure.identity.aio`` credential to the gateway.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from azure.core.credentials import AccessToken


class StaticTokenCredential:
    """An ``AsyncTokenCredential`` that always returns one fixed token."""

    def __init__(self, token: str | None = None, *, app_id: str = "00000000-0000-0000-0000-00000000e5c0",
                 lifetime_seconds: int = 3600) -> None:
        self._token = token or unsigned_jwt({"appid": app_id, "aud": "https://graph.microsoft.com"})
        self._lifetime = lifetime_seconds

    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token with ``alg: none`` (only a simulator accepts it)."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"iat": int(time.time()), **claims}).encode())
    return f"{header}.{body}."
