"""Per-mailbox pacing: budget per window, in-flight slots, Retry-After pause (no I/O)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from shared.graph.pacing import MailboxPacer, Pacer, PacingHandler, PacingOption, PacingPolicy


async def test_budget_holds_in_every_window() -> None:
    policy = PacingPolicy(requests=20, window_seconds=0.2, concurrency=4)
    pacer = MailboxPacer(policy)
    admitted: list[float] = []

    async def one() -> None:
        async with pacer.slot(1):
            admitted.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(70)))
    admitted.sort()
    for i, start in enumerate(admitted):
        in_window = sum(1 for t in admitted[i:] if t < start + policy.window_seconds)
        assert in_window <= policy.requests


async def test_at_most_four_in_flight_and_a_batch_takes_four() -> None:
    pacer = MailboxPacer(PacingPolicy(concurrency=4))
    inflight, peak = 0, 0
    log: list[str] = []

    async def request(cost: int, name: str) -> None:
        nonlocal inflight, peak
        async with pacer.slot(cost):
            weight = min(cost, 4)
            inflight += weight
            peak = max(peak, inflight)
            log.append(f"+{name}")
            await asyncio.sleep(0.01)
            log.append(f"-{name}")
            inflight -= weight

    await asyncio.gather(*(request(1, f"s{i}") for i in range(10)), request(20, "batch"),
                         *(request(1, f"t{i}") for i in range(5)))
    assert peak <= 4
    start = log.index("+batch")
    assert log[start + 1] == "-batch"  # nothing else ran while the batch held every slot


async def test_retry_after_pauses_the_whole_mailbox() -> None:
    pacer = MailboxPacer(PacingPolicy())
    pacer.pause(0.3)
    entered = asyncio.Event()

    async def request() -> None:
        async with pacer.slot(1):
            entered.set()

    task = asyncio.create_task(request())
    await asyncio.sleep(0.05)
    assert not entered.is_set()
    await task
    assert entered.is_set()


class _Script(httpx.AsyncBaseTransport):
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.responses.pop(0)


async def test_handler_counts_429_and_keys_by_user_segment() -> None:
    pacer = Pacer(PacingPolicy())
    handler = PacingHandler(pacer)
    transport = _Script(httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200))
    first = httpx.Request("GET", "https://graph.example/v1.0/users/Ann%40contoso.test/contacts")
    assert (await handler.send(first, transport)).status_code == 429
    second = httpx.Request("POST", "https://graph.example/v1.0/$batch",
                           extensions={"kiota_request_options": {PacingOption.KEY: PacingOption("ann@contoso.test",
                                                                                                7)}})
    assert (await handler.send(second, transport)).status_code == 200
    stats = pacer.stats()["ann@contoso.test"]
    assert (stats.requests, stats.cost, stats.throttled) == (2, 8, 1)


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        PacingPolicy(concurrency=0)
    with pytest.raises(ValueError, match="window_seconds"):
        PacingPolicy(window_seconds=0)
