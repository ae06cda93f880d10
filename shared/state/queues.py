"""The sync queue's twin: :class:`MemorySyncQueue` records what was sent (unit tests)."""

from __future__ import annotations

from shared.ports import SyncRequest


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
