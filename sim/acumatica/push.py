"""Push notifications: after each committed change, POST the change to the configured webhook.

Body (as Acumatica sends it)::

    {"Inserted": [row], "Deleted": [row], "Query": <entity name>, "CompanyId": <tenant>,
     "Id": <transaction GUID>, "TimeStamp": <increasing integer>, "AdditionalInfo": {}}

An insert has only ``Inserted``, a delete only ``Deleted``, an update both (old row in
``Deleted``, new row in ``Inserted``). Rows are flat: the entity's scalar fields with plain
values. Deliveries keep commit order; a failed delivery (no 2xx or a connection error) is retried
up to ``retries`` times with a growing delay. Every attempt is recorded for ``GET /_sim/push``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp

from sim.acumatica.schema import fields_of, format_datetime
from sim.acumatica.store import Change

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Delivery:
    payload: dict[str, Any]
    attempts: int = 0
    status: int | None = None
    delivered: bool = False


def _row(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    fields = fields_of(entity)
    row: dict[str, Any] = {"id": record.get("id")}
    for name, value in record.items():
        if isinstance(fields.get(name), str):
            row[name] = format_datetime(value) if isinstance(value, datetime) else value
    return row


class Pusher:
    """The webhook configuration and an ordered delivery queue."""

    def __init__(self, tenant: str, retries: int = 5, retry_delay: float = 0.2) -> None:
        self.tenant = tenant
        self.retries = retries
        self.retry_delay = retry_delay
        self.url: str | None = None
        self.headers: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._stamp = 0

    def configure(self, url: str | None, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = dict(headers)

    def reset(self) -> None:
        self.configure(None, {})
        self.deliveries.clear()
        while not self._queue.empty():
            self._queue.get_nowait()

    def notify(self, change: Change) -> None:
        """Queue a notification for a committed change (no-op without a webhook)."""
        if self.url is None:
            return
        self._stamp = max(self._stamp + 1, time.time_ns() // 100)
        payload = {
            "Inserted": [_row(change.entity, change.new)] if change.new else [],
            "Deleted": [_row(change.entity, change.old)] if change.old else [],
            "Query": change.entity,
            "CompanyId": self.tenant,
            "Id": str(uuid.uuid4()),
            "TimeStamp": self._stamp,
            "AdditionalInfo": {},
        }
        delivery = Delivery(payload)
        self.deliveries.append(delivery)
        self._queue.put_nowait(delivery)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                delivery = await self._queue.get()
                await self._deliver(session, delivery)

    async def _deliver(self, session: aiohttp.ClientSession, delivery: Delivery) -> None:
        for attempt in range(self.retries + 1):
            url = self.url
            if url is None:
                return
            delivery.attempts += 1
            try:
                async with session.post(url, json=delivery.payload, headers=self.headers) as response:
                    delivery.status = response.status
                    if 200 <= response.status < 300:
                        delivery.delivered = True
                        return
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                delivery.status = None
                logger.info("push delivery failed (%s), attempt %d", type(exc).__name__, attempt + 1)
            await asyncio.sleep(self.retry_delay * (2 ** attempt))
