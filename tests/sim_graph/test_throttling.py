"""Throttling per app and mailbox: concurrency cap and request window, 429 with Retry-After."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from devhost.services import Simulator, start_simulator
from tests.sim_graph.conftest import A, B, user


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    sim = start_simulator("sim.graph", ["--users", f"{A},{B}", "--latency-ms", "150", "--time-scale", "60"])
    try:
        yield sim
    finally:
        sim.stop()


def _jwt(app_id: str) -> str:
    def part(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none'})}.{part({'appid': app_id})}.sig"


async def _burst(base: str, token: str, upn: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=f"{base}/v1.0", headers={"Authorization": f"Bearer {token}"},
                                 timeout=10) as client:
        return list(await asyncio.gather(*(client.get(user(upn=upn)) for _ in range(n))))


def test_more_than_four_concurrent_get_429_with_retry_after(graph: httpx.Client, simulator: Simulator,
                                                          admin: httpx.Client) -> None:
    responses = asyncio.run(_burst(simulator.base_url, "tok", A, 10))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) >= 4  # exactly 4 when all 10 overlap; more if the machine staggers them
    throttled = [r for r in responses if r.status_code == 429]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in throttled)
    assert throttled[0].json()["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in throttled[0].json()["error"]["message"]
    counters = admin.get("/counters").json()
    assert counters[A] == {"requests": 10, "throttled": len(throttled)}


def test_budget_is_per_app_and_per_mailbox(graph: httpx.Client, simulator: Simulator) -> None:
    async def together() -> list[list[httpx.Response]]:
        return list(await asyncio.gather(
            _burst(simulator.base_url, _jwt("app-1"), A, 4), _burst(simulator.base_url, _jwt("app-2"), A, 4),
            _burst(simulator.base_url, _jwt("app-1"), B, 4)))

    results = asyncio.run(together())
    assert all(r.status_code == 200 for batch in results for r in batch)


def test_request_window_429_and_retry_after_reflects_time_scale(graph: httpx.Client, admin: httpx.Client
                                                                ) -> None:
    admin.post("/throttling", json={"requests": 3}).raise_for_status()
    statuses = [graph.get(user()).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = graph.get(user())
    assert throttled.status_code == 429
    assert "MailboxConcurrency" not in throttled.json()["error"]["message"]
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= 10  # 10-minute window / 60
    assert graph.get(user(upn=B)).status_code == 200
    admin.post("/reset").raise_for_status()
    assert admin.get("/throttling").json()["requests"] == 10_000


def test_batched_items_get_their_own_429(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/throttling", json={"requests": 2}).raise_for_status()
    requests = [{"id": str(i), "method": "GET", "url": user()} for i in range(4)]
    response = graph.post("/$batch", json={"requests": requests})
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["responses"]]
    assert statuses == [200, 200, 429, 429]
    assert "Retry-After" in response.json()["responses"][2]["headers"]


def test_admin_rejects_bad_limits(admin: httpx.Client) -> None:
    assert admin.post("/throttling", json={"requests": -1}).status_code == 400
    assert admin.post("/throttling", json={"burst": 1}).status_code == 400


def test_batch_runs_four_at_a_time_and_counts_against_concurrency(graph: httpx.Client, simulator: Simulator,
                                                                 admin: httpx.Client) -> None:
    requests = [{"id": str(i), "method": "GET", "url": user()} for i in range(8)]
    alone = graph.post("/$batch", json={"requests": requests}).json()["responses"]
    assert [r["status"] for r in alone] == [200] * 8

    async def two_batches() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=f"{simulator.base_url}/v1.0",
                                     headers={"Authorization": "Bearer tok"}, timeout=10) as client:
            return list(await asyncio.gather(*(client.post("/$batch", json={"requests": requests})
                                               for _ in range(2))))

    statuses = [r["status"] for response in asyncio.run(two_batches()) for r in response.json()["responses"]]
    assert statuses.count(429) >= 1 and statuses.count(200) >= 8
    assert admin.get("/counters").json()[A]["throttled"] == statuses.count(429)
