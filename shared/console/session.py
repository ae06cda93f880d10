"""The signed-in principal, its session cookie and the CSRF token bound to that cookie.

The cookie holds ``base64url(json) "." base64url(HMAC-SHA256)`` with the principal's name, object
id, app roles and expiry; the key is the console's session key (never rendered or logged). The
CSRF token is an HMAC of the cookie value, so it changes with every sign-in and cannot be
computed without the key.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import datetime, timedelta

ADMIN_ROLE = "Exsync.Admin"
READER_ROLE = "Exsync.Reader"
COOKIE = "exsync_console"
LIFETIME = timedelta(hours=8)


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who is signed in and which of the console's app roles they hold."""

    name: str
    object_id: str
    roles: frozenset[str]

    @property
    def can_read(self) -> bool:
        return bool(self.roles & {ADMIN_ROLE, READER_ROLE})

    @property
    def can_change(self) -> bool:
        return ADMIN_ROLE in self.roles

    @property
    def role_label(self) -> str:
        return "administrator" if self.can_change else "reader" if self.can_read else "no console role"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Encodes principals into tamper-proof cookie values and back."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the console session key must be at least 16 bytes")
        self._key = key

    def _mac(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())

    def encode(self, principal: Principal, now: datetime) -> str:
        payload = {"n": principal.name, "o": principal.object_id, "r": sorted(principal.roles),
                   "e": int((now + LIFETIME).timestamp())}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def decode(self, value: str | None, now: datetime) -> Principal | None:
        """The principal of a valid, unexpired cookie; None for anything else."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            payload = json.loads(_unb64(body))
            if int(payload["e"]) < now.timestamp():
                return None
            return Principal(str(payload["n"]), str(payload["o"]), frozenset(str(r) for r in payload["r"]))
        except (ValueError, KeyError, TypeError):
            return None

    def sign(self, text: str) -> str:
        """``text`` with a MAC (short-lived sign-in state)."""
        body = _b64(text.encode())
        return f"{body}.{self._mac('state:' + body)}"

    def unsign(self, value: str | None) -> str | None:
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac("state:" + body)):
            return None
        return _unb64(body).decode()

    def csrf_token(self, cookie_value: str) -> str:
        return self._mac(f"csrf:{cookie_value}")

    def csrf_ok(self, cookie_value: str | None, given: str | None) -> bool:
        if not cookie_value or not given:
            return False
        return hmac.compare_digest(given, self.csrf_token(cookie_value))
