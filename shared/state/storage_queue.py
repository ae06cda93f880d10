"""The sync queue on Azure Storage queues (Azurite locally), base64-encoded like the trigger expects."""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from shared.errors import RemoteError
from shared.ports import SyncRequest

logger = logging.getLogger(__name__)


class StorageSyncQueue:
    """Sends :class:`SyncRequest` messages to a Storage queue, creating it on first use."""

    def __init__(self, client: QueueClient) -> None:
        self._client = client
        self._ready = False

    @classmethod
    def from_connection_string(cls, conn: str, queue_name: str) -> StorageSyncQueue:
        return cls(QueueClient.from_connection_string(
            conn, queue_name, message_encode_policy=BinaryBase64EncodePolicy(),
            message_decode_policy=BinaryBase64DecodePolicy()))

    @classmethod
    def from_endpoint(cls, endpoint: str, queue_name: str, credential: Any) -> StorageSyncQueue:
        return cls(QueueClient(endpoint, queue_name, credential=credential,
                               message_encode_policy=BinaryBase64EncodePolicy(),
                               message_decode_policy=BinaryBase64DecodePolicy()))

    @property
    def client(self) -> QueueClient:
        return self._client

    async def ensure(self) -> None:
        if self._ready:
            return
        try:
            await self._client.create_queue()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise RemoteError(f"cannot create queue {self._client.queue_name}: {exc}") from exc
        self._ready = True

    async def send(self, request: SyncRequest, delay_seconds: int = 0) -> None:
        await self.ensure()
        body = json.dumps(request.to_json()).encode()  # the encode policy base64-encodes it
        try:
            await self._client.send_message(body, visibility_timeout=delay_seconds or None)
        except AzureError as exc:
            raise RemoteError(f"cannot enqueue sync of a mailbox: {exc}") from exc
        logger.debug("enqueued sync %s (%s) delay=%ss", request.run_id, request.reason, delay_seconds)

    async def aclose(self) -> None:
        await self._client.close()
