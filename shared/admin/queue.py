"""Sync requests and the queue they travel on (kept here for imports; they live in the ports).

A :class:`SyncRequest` asks the worker to look at one mailbox; it travels as base64-encoded JSON on
a Storage queue (:mod:`shared.state.storage_queue`). :class:`MemorySyncQueue` is the in-memory twin.
"""

from __future__ import annotations

from shared.ports import SyncQueue, SyncRequest
from shared.state.queues import MemorySyncQueue

__all__ = ["MemorySyncQueue", "SyncQueue", "SyncRequest"]
