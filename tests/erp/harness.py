"""Test harness for ERP gateways: the Acumatica simulator, a push receiver, and "a user in the ERP".

``ErpHarness`` gives the contract suite one way to act behind the gateway's back (create,
update, delete a record as an ERP user would) for both the in-memory twin and the Acumatica
gateway against the simulator over HTTP. For Acumatica, deletions reach the gateway the way they
do in production: the simulator pushes a notification to a webhook, the harness parses it once
(``parse_push``) and the next listing gets its removals as ``removed`` (:class:`PushFed`), as
the worker hands them over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol

import httpx
from aiohttp import web

from devhost.services import Simulator, free_port, start_simulator
from shared.domain.records import Contact, EmailMessage, Event, Record, RecordType, Task
from shared.erp import mapping
from shared.erp.acumatica import AcumaticaErpGateway
from shared.erp.memory import InMemoryErpGateway
from shared.erp.push import PushNotification, fold_removals, parse_push
from shared.erp.session import AcumaticaSession

EMPLOYEES = ("EP00000001", "EP00000002", "EP00000003")
CREDENTIALS = {"username": "admin", "password": "setup", "tenant": "Company"}


@contextlib.contextmanager
def acumatica_simulator(*args: str) -> Iterator[Simulator]:
    sim = start_simulator("sim.acumatica", ["--push-retry-ms", "20", *args])
    try:
        yield sim
    finally:
        sim.stop()


def plain_client() -> httpx.AsyncClient:
    """An HTTP client for the loopback simulator (no TLS, so no certificate loading per client)."""
    return httpx.AsyncClient(timeout=30, verify=False)


async def admin(base_url: str, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=base_url, timeout=30, verify=False) as client:
        response = await client.request(method, f"/_sim/{path}", json=body)
        response.raise_for_status()
        return response.json()


async def reset_simulator(base_url: str) -> None:
    await admin(base_url, "POST", "reset")
    await admin(base_url, "POST", "seed", {"Employee": [
        {"EmployeeID": {"value": e}, "EmployeeName": {"value": f"Employee {e[-1]}"}} for e in EMPLOYEES[1:]]})


class PushReceiver:
    """A webhook in the test process collecting push notification bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next = 0
        self._event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503)
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers))
        self._event.set()
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/push"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        """Wait (at most 10 s) until ``count`` notifications arrived; all bodies so far."""
        return await self.wait_until(lambda: len(self.bodies) >= count)

    async def wait_until(self, ready: Callable[[], bool]) -> list[dict[str, Any]]:
        async with asyncio.timeout(10):
            while not ready():
                self._event.clear()
                await self._event.wait()
        return self.bodies

    def deletion_of(self, item_id: str) -> dict[str, Any] | None:
        for body in self.bodies:
            if not body["Inserted"] and any(row.get("id") == item_id for row in body["Deleted"]):
                return body
        return None


@contextlib.asynccontextmanager
async def push_receiver(base_url: str) -> AsyncIterator[PushReceiver]:
    receiver = PushReceiver()
    await receiver.start()
    await admin(base_url, "POST", "push", {"url": receiver.url, "headers": {"X-Test": "1"}})
    try:
        yield receiver
    finally:
        await admin(base_url, "POST", "push", {"url": None})
        await receiver.stop()


class ErpHarness(Protocol):
    gateway: Any

    async def create(self, record_type: RecordType, record: Record, *, owner: str | None = None,
                     workgroup: str | None = None) -> str: ...

    async def update(self, record_type: RecordType, item_id: str, record: Record | None = None, *,
                     owner: str | None = None) -> None: ...

    async def delete(self, record_type: RecordType, item_id: str) -> None: ...


class MemoryHarness:
    def __init__(self) -> None:
        self.gateway = InMemoryErpGateway()

    async def create(self, record_type: RecordType, record: Record, *, owner: str | None = None,
                     workgroup: str | None = None) -> str:
        return self.gateway.user_create(record_type, record, owner=owner, workgroup=workgroup)

    async def update(self, record_type: RecordType, item_id: str, record: Record | None = None, *,
                     owner: str | None = None) -> None:
        self.gateway.user_update(item_id, record, owner=owner)

    async def delete(self, record_type: RecordType, item_id: str) -> None:
        self.gateway.user_delete(item_id)


def entity_body(record_type: RecordType, record: Record, current: dict[str, Any] | None = None) -> dict[str, Any]:
    if isinstance(record, Contact):
        return mapping.contact_from_domain(record)
    if isinstance(record, EmailMessage):
        return mapping.email_from_domain(record)
    if isinstance(record, Task):
        return mapping.task_from_domain(record, current_status=mapping.text(current or {}, "Status") or None)
    assert isinstance(record, Event)
    return mapping.event_from_domain(record, current_attendees=(current or {}).get("Attendees") or [])


class PushFed:
    """The gateway as the worker uses it: a listing gets the removals pushed since the last one."""

    def __init__(self, gateway: AcumaticaErpGateway) -> None:
        self.inner = gateway
        self.notes: list[PushNotification] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def list_changes(self, record_type: RecordType, scope: Any, cursor: str | None, page_size: int,
                           removed: Sequence[str] = ()) -> Any:
        told = fold_removals(self.notes).of(record_type)
        self.notes = [n for n in self.notes if n.record_type is not record_type]
        return await self.inner.list_changes(record_type, scope, cursor, page_size, (*removed, *told))


class AcumaticaHarness:
    """The gateway under test plus a second session acting as an ERP user."""

    def __init__(self, base_url: str, receiver: PushReceiver) -> None:
        self.base_url = base_url
        self.receiver = receiver
        self._clients = (plain_client(), plain_client())
        self.gateway = PushFed(AcumaticaErpGateway(base_url, **CREDENTIALS, backoff=0.01,
                                                   http_client=self._clients[0]))
        self.user = AcumaticaSession(base_url, username="admin", password="setup", tenant="Company",
                                     http_client=self._clients[1])

    def _path(self, record_type: RecordType, *parts: str) -> str:
        return "/".join(["/entity/Default/24.200.001", mapping.ENTITY[record_type], *parts])

    async def create(self, record_type: RecordType, record: Record, *, owner: str | None = None,
                     workgroup: str | None = None) -> str:
        body = entity_body(record_type, record)
        if owner is not None:
            body["Owner"] = {"value": owner}
        if workgroup is not None:
            body["WorkgroupID" if record_type is RecordType.TASK else "Workgroup"] = {"value": workgroup}
        response = await self.user.request("PUT", self._path(record_type), json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    async def update(self, record_type: RecordType, item_id: str, record: Record | None = None, *,
                     owner: str | None = None) -> None:
        current = (await self.user.request("GET", self._path(record_type, item_id),
                                           params={"$expand": "Attendees"} if record_type is RecordType.EVENT
                                           else None)).json()
        body = entity_body(record_type, record, current) if record is not None else {}
        if owner is not None:
            body["Owner"] = {"value": owner}
        body["id"] = item_id
        response = await self.user.request("PUT", self._path(record_type), json=body)
        assert response.status_code == 200, response.text

    async def delete(self, record_type: RecordType, item_id: str) -> None:
        response = await self.user.request("DELETE", self._path(record_type, item_id))
        assert response.status_code == 204, response.text
        await self.receiver.wait_until(lambda: self.receiver.deletion_of(item_id) is not None)
        body = self.receiver.deletion_of(item_id)
        assert body is not None
        self.gateway.notes.append(parse_push(body))

    async def aclose(self) -> None:
        await self.gateway.aclose()
        await self.user.aclose()
        for client in self._clients:
            await client.aclose()
