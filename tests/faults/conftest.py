"""The fault stack: Azurite and both simulators for the module, the local host as a real child process
(``python -m devhost.serve --host-only``) that a test may SIGKILL and restart against the same Azurite.

Clients read each side through its standard API only: Graph v1.0 for the mailbox, Acumatica's
contract-based REST for the ERP, the admin API for status and log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from devhost.services import Azurite, ManagedProcess, Simulator, free_port, start_process, start_simulator

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "/entity/Default/24.200.001"
ANN = "ann@contoso.test"
OWNER = "EP00000001"
GRAPH_TIMEOUT = 5  # seconds the host waits for one Graph answer (a 120 s stall outlasts it; a busy machine does not)
REPORT_ENV = "EXSYNC_FAULT_REPORT"  # where the matrix appends its outcomes (scripts/reliability_report.py)


def v(value: object) -> dict[str, object]:
    return {"value": value}


@dataclasses.dataclass
class HostProcess:
    """The host child process; ``kill`` is SIGKILL (no clean-up runs), ``start`` a fresh process."""

    env: dict[str, str]
    port: int
    process: ManagedProcess | None = None
    kills: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.process = start_process("host", [sys.executable, "-m", "devhost.serve", "--host-only"],
                                     ready_text="ready", ready_port=self.port, timeout=120, env=self.env, cwd=ROOT)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.proc.pid, signal.SIGKILL)
        self.process.proc.wait(30)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(15)

    def log(self) -> str:
        return "".join(self.process.lines) if self.process else ""


@dataclasses.dataclass
class FaultStack:
    host: HostProcess
    graph_sim: Simulator
    erp_sim: Simulator
    api: httpx.AsyncClient
    graph: httpx.AsyncClient
    erp: httpx.AsyncClient

    # ------------------------------------------------------------ the two sides, read through their APIs

    async def graph_contacts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = f"/v1.0/users/{ANN}/contacts"  # pages by nextLink ($top would cap the list)
        while url:
            resp = await self.graph.get(url)
            assert resp.status_code == 200, resp.text
            data = resp.json()
            out += data["value"]
            url = data.get("@odata.nextLink")
        return out

    async def erp_contacts(self) -> list[dict[str, Any]]:
        resp = await self.erp.get(f"{ENDPOINT}/Contact")
        assert resp.status_code == 200, resp.text
        return [c for c in resp.json() if c.get("Email", {}).get("value")]

    async def erp_put(self, record: dict[str, Any]) -> dict[str, Any]:
        resp = await self.erp.put(f"{ENDPOINT}/Contact", json=record)
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    # ------------------------------------------------------------ faults

    async def fault(self, sim: Simulator, spec: dict[str, Any]) -> None:
        client = self.graph if sim is self.graph_sim else self.erp
        resp = await client.post(f"{sim.base_url}/_sim/faults", json=spec)
        assert resp.status_code == 201, resp.text

    async def clear_faults(self) -> None:
        for sim in (self.graph_sim, self.erp_sim):
            resp = await self.api.delete(f"{sim.base_url}/_sim/faults")
            assert resp.status_code == 200, resp.text

    # ------------------------------------------------------------ runs

    async def status(self) -> dict[str, Any]:
        resp = await self.api.get(f"{self.host.api}/mailboxes/{ANN}/status")
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    async def log(self) -> list[dict[str, Any]]:
        resp = await self.api.get(f"{self.host.api}/mailboxes/{ANN}/log", params={"level": "verbose",
                                                                                     "limit": "1000"})
        assert resp.status_code == 200, resp.text
        return resp.json()["entries"]  # type: ignore[no-any-return]

    async def request_sync(self) -> str:
        since = datetime.now(UTC).isoformat()
        resp = await self.api.post(f"{self.host.api}/sync", json={"mailboxes": [ANN]})
        assert resp.status_code == 202, resp.text
        return since

    async def finished(self, since: str, limit: float = 150.0) -> dict[str, Any]:
        """The status once a run started at/after ``since`` is over and nothing waits."""
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            with contextlib.suppress(httpx.TransportError):
                status = await self.status()
                run = status["last_run"] or {}
                if (run.get("state") not in (None, "queued", "running") and status["pending"] is None
                        and run.get("started_at", "") >= since):
                    return status
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no finished run since {since}; host log:\n{self.host.log()[-3000:]}")
            await asyncio.sleep(0.2)


def record_outcome(row: dict[str, Any]) -> None:
    """Append one fault x outcome row for ``scripts/reliability_report.py`` (when it runs the matrix)."""
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def services(azurite_service: Azurite) -> Iterator[tuple[Azurite, Simulator, Simulator]]:
    graph = start_simulator("sim.graph")
    try:
        # Licences for this client, the host and the orphaned sessions of three killed hosts (a crashed
        # host cannot log out; with the default two licences the restarted host could not log in).
        erp = start_simulator("sim.acumatica", ["--api-users", "8"])
        try:
            yield azurite_service, graph, erp
        finally:
            erp.stop()
    finally:
        graph.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(services: tuple[Azurite, Simulator, Simulator]) -> AsyncIterator[FaultStack]:
    azurite, graph_sim, erp_sim = services
    port, key, suffix = free_port(), "fault-key", uuid.uuid4().hex[:8]
    conn = azurite.connection_string
    env = {"EXSYNC_STATE_CONNECTION": conn, "AzureWebJobsStorage": conn, "EXSYNC_ERP_URL": erp_sim.base_url,
           "EXSYNC_ERP_TENANT": "Company", "EXSYNC_ERP_USERNAME": "admin", "EXSYNC_ERP_PASSWORD": "setup",
           "EXSYNC_GRAPH_CLIENT_STATE": secrets.token_urlsafe(16), "EXSYNC_ERP_WEBHOOK_SECRET": "s",
           "EXSYNC_TABLE_PREFIX": f"k{suffix}", "EXSYNC_SYNC_QUEUE": f"faults-{suffix}",
           "EXSYNC_BATCH_STAGGER_SECONDS": "0", "EXSYNC_LEASE_SECONDS": "30", "EXSYNC_LOCAL_TIMERS": "false",
           "EXSYNC_GRAPH_NOTIFICATION_URL": f"http://127.0.0.1:{port}/api", "SERVE_PORT": str(port),
           "EXSYNC_FUNCTION_KEY": key, "EXSYNC_LOG_LEVEL": "INFO", "EXSYNC_SCHEDULE": "0 */5 * * * *",
           "EXSYNC_GRAPH_TIMEOUT_SECONDS": str(GRAPH_TIMEOUT)}
    host = HostProcess(env, port)
    await asyncio.to_thread(host.start)
    api = httpx.AsyncClient(headers={"x-functions-key": key}, timeout=30)
    graph = httpx.AsyncClient(base_url=graph_sim.base_url, timeout=30,
                              headers={"Authorization": "Bearer faults", "Prefer": 'IdType="ImmutableId"'})
    erp = httpx.AsyncClient(base_url=erp_sim.base_url, timeout=30)
    fs = FaultStack(host, graph_sim, erp_sim, api, graph, erp)
    try:
        login = await erp.post("/entity/auth/login", json={"name": "admin", "password": "setup",
                                                           "tenant": "Company"})
        assert login.status_code == 204, login.text
        await _configure(fs)
        yield fs
    finally:
        await erp.post("/entity/auth/logout")
        for client in (api, graph, erp):
            await client.aclose()
        await asyncio.to_thread(host.stop)


async def _configure(fs: FaultStack) -> None:
    r = await fs.graph.post("/_sim/users", json={"userPrincipalName": ANN, "displayName": "Ann"})
    assert r.status_code in (201, 409), r.text
    await fs.erp.post("/_sim/seed", json={"Employee": [{"EmployeeID": v(OWNER), "EmployeeName": v("Ann"),
                                                         "ContactInfo": {"Email": v(ANN)}}]})
    api = fs.host.api
    r = await fs.api.post(f"{api}/policies", json={"name": "sales", "contacts": {"sync_without_category": True},
                                                   "emails": {"enabled": False}, "tasks": {"enabled": False},
                                                   "events": {"enabled": False}})
    assert r.status_code == 201, r.text
    r = await fs.api.post(f"{api}/servers", json={"name": "m365", "default_policy": "sales", "client_id": "app",
                                                  "graph_base_url": f"{fs.graph_sim.base_url}/v1.0",
                                                  "update_batch_size": 5})
    assert r.status_code == 201, r.text
    r = await fs.api.put(f"{api}/servers/m365/mailboxes/{ANN}", json={"employee_id": OWNER, "employee_name": "Ann"})
    assert r.status_code == 201, r.text
