"""The sync queue on Azure Storage queues (kept here for imports; see :mod:`shared.state.storage_queue`)."""

from __future__ import annotations

from shared.state.storage_queue import StorageSyncQueue

__all__ = ["StorageSyncQueue"]
