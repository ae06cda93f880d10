"""Sync requests and the queue they travel on.

A :class:`SyncRequest` asks the worker to sync one mailbox (optionally only some record types).
It travels as base64-encoded JSON on a Storage queue, which is what the Functions queue trigger
expects. :class:`MemorySyncQueue` is the in-memory twin used by unit tests.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from typing import Any, Protocol

from shared.domain.records import RecordType
from shared.errors import ValidationFailed

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class SyncRequest:
    """One mailbox to sync. ``reason``: schedule | manual | graph | erp | lifecycle."""

    mailbox: str
    run_id: str
    reason: str = "schedule"
    record_types: tuple[RecordType, ...] | None = None
    deferrals: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox, "run_id": self.run_id, "reason": self.reason,
            "record_types": None if self.record_types is None else [t.value for t in self.record_types],
            "deferrals": self.deferrals,
        }

    @classmethod
    def from_json(cls, data: Any) -> SyncRequest:
        if not isinstance(data, dict) or not isinstance(data.get("mailbox"), str):
            raise ValidationFailed({"mailbox": "queue message must be a JSON object with a mailbox"})
        types = data.get("record_types")
        try:
            parsed = None if types is None else tuple(RecordType(t) for t in types)
        except (ValueError, TypeError) as exc:
            raise ValidationFailed({"record_types": "use contact, email, task or event"}) from exc
        return cls(mailbox=data["mailbox"].lower(), run_id=str(data.get("run_id") or ""),
                   reason=str(data.get("reason") or "schedule"), record_types=parsed,
                   deferrals=int(data.get("deferrals") or 0))

    def encode(self) -> str:
        """Base64 text of the JSON body (the queue trigger's ``messageEncoding: base64``)."""
        return base64.b64encode(json.dumps(self.to_json()).encode()).decode("ascii")

    @classmethod
    def decode(cls, body: bytes | str) -> SyncRequest:
        """Parse a message body, base64 or (already decoded by the host) plain JSON."""
        raw = body.encode() if isinstance(body, str) else body
        text = raw.strip()
        if not text.startswith(b"{"):
            try:
                text = base64.b64decode(text, validate=True)
            except ValueError as exc:
                raise ValidationFailed({"body": "queue message is neither JSON nor base64 JSON"}) from exc
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValidationFailed({"body": "queue message is not valid JSON"}) from exc


class SyncQueue(Protocol):
    """Where sync requests go; ``delay_seconds`` hides the message that long."""

    async def send(self, request: SyncRequest, delay_seconds: int = 0) -> None: ...

    async def aclose(self) -> None: ...


class MemorySyncQueue:
    """In-memory twin of the Storage queue: records what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[SyncRequest, int]] = []

    async def send(self, request: SyncRequest, delay_seconds: int = 0) -> None:
        self.sent.append((request, delay_seconds))

    async def aclose(self) -> None:
        return None

    def drain(self) -> list[SyncRequest]:
        out = [r for r, _ in self.sent]
        self.sent.clear()
        return out
