"""The licence's request limits: concurrent requests wait for a slot, a full queue answers 429,
requests above half the per-minute limit are delayed; sign-out is exempt; reset turns them off."""

from __future__ import annotations

import asyncio

import httpx

from tests.sim_acumatica.conftest import LOGIN, E


async def _licence(anon: httpx.AsyncClient, **limits: float) -> dict[str, float]:
    response = await anon.post("/_sim/licence", json=limits)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_concurrent_limit_queues_then_refuses(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    await _licence(anon, concurrent_requests=1, max_queue=2)
    # each listing holds its slot for a second, so all four arrive while the first runs
    await anon.post("/_sim/faults", json={"path": "/Contact$", "method": "GET", "status": 200,
                                          "delay_ms": 1000, "count": 4})
    answers = await asyncio.gather(*(api.get(f"{E}/Contact") for _ in range(4)))
    statuses = sorted(a.status_code for a in answers)
    counters = (await anon.get("/_sim/licence")).json()
    assert statuses == [200, 200, 200, 429]
    assert counters["peak_concurrent"] == 1 and counters["refused"] == 1 and counters["admitted"] == 3
    [refused] = [a for a in answers if a.status_code == 429]
    assert "API request limit" in refused.json()["exceptionMessage"] and "Retry-After" in refused.headers


async def test_per_minute_limit_delays_instead_of_failing(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    await _licence(anon, requests_per_minute=4, time_scale=120)   # a half-second minute
    answers = [await api.get(f"{E}/Contact") for _ in range(6)]
    counters = (await anon.get("/_sim/licence")).json()
    assert [a.status_code for a in answers] == [200] * 6
    assert counters["delayed"] >= 2 and counters["refused"] == 0 and counters["admitted"] == 6


async def test_limits_are_off_by_default_and_after_reset(anon: httpx.AsyncClient) -> None:
    await _licence(anon, requests_per_minute=1, concurrent_requests=1)
    assert (await anon.post("/_sim/reset")).status_code == 200
    counters = (await anon.get("/_sim/licence")).json()
    assert counters["requests_per_minute"] == 0 and counters["concurrent_requests"] == 0
    assert (await anon.post("/entity/auth/login", json=LOGIN)).status_code == 204
    assert (await anon.post("/entity/auth/logout")).status_code == 204
    assert (await anon.get("/_sim/licence")).json()["admitted"] == 1   # sign-out is not counted


async def test_bad_limits_name_the_field(anon: httpx.AsyncClient) -> None:
    response = await anon.post("/_sim/licence", json={"requests_per_minute": -1})
    assert response.status_code == 400 and "requests_per_minute" in response.json()["error"]
