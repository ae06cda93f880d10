"""Identifiers, change keys and timestamps shaped like Exchange's."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _padded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def rest_id() -> str:
    """A regular (move-sensitive) Outlook REST id, e.g. ``AAMkAD...=`` (URL-safe base64, padded)."""
    return "AAMkAD" + MARKS["marks"] + _padded(secrets.token_bytes(47))


MARKS = {"marks": ""}
"""Characters put into every new id after its prefix (``POST /_sim/ids``; reset clears them): a client
must percent-encode ids in paths (Graph takes ``%2F`` inside a segment) and keep them opaque."""


def immutable_id() -> str:
    """An immutable id (``Prefer: IdType="ImmutableId"``), e.g. ``AAkALg...=``."""
    return "AAkALg" + MARKS["marks"] + _padded(secrets.token_bytes(47))


def change_key() -> str:
    return _b64(secrets.token_bytes(18))


def guid() -> str:
    return str(uuid.uuid4())


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime | None = None) -> str:
    """ISO 8601 UTC with a Z, as Graph writes DateTimeOffset values."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(value: str) -> dt.datetime:
    """Parse a DateTimeOffset (``Z`` or offset, fractional seconds of any length)."""
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def internet_message_id(domain: str) -> str:
    return f"<{secrets.token_hex(12)}@{domain}>"


def conversation_id() -> str:
    return "AAQkAD" + _b64(secrets.token_bytes(30))
