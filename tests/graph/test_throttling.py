"""2,000 writes into one mailbox through the gateway against the simulator's throttling.

The simulator runs Graph's per-mailbox limits with a shrunken window (``--time-scale``) and a
smaller budget, so the gateway's pacing (token bucket, 4 in flight, Retry-After) is what keeps
the run clean. Asserts on counts only: every write lands exactly once, and the simulator saw
no more than a handful of 429s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from kiota_http.middleware.options import RetryHandlerOption

from devhost.services import Simulator
from shared.domain.records import Contact, RecordType
from shared.graph.gateway import GraphMailboxGateway
from shared.graph.pacing import PacingPolicy
from shared.ports import MailboxWrite, WriteKind
from tests.graph.simulator import admin, fresh, graph_simulator

MAILBOX = "load@contoso.test"
TIME_SCALE = 200.0
BUDGET = 1000           # requests per (scaled) window, per mailbox
WRITES = int(__import__("os").environ.get("EXSYNC_THROTTLE_WRITES", "2000"))
logger = logging.getLogger(__name__)


@pytest.fixture
def throttled_sim() -> Iterator[Simulator]:
    """The shared simulator with Graph's limits time-scaled: the window shrunk TIME_SCALE-fold
    (what ``--time-scale`` does) and the budget lowered to BUDGET, restored afterwards."""
    sim = graph_simulator()
    fresh(sim)
    admin(sim, "POST", "/_sim/throttling", {"requests": BUDGET, "window_s": 600.0 / TIME_SCALE})
    try:
        yield sim
    finally:
        fresh(sim)


async def stored_names(sim: Simulator, container: str) -> list[str]:
    """Every contact's givenName in the folder, read straight from the simulator (default limits)."""
    admin(sim, "POST", "/_sim/throttling", {"requests": 10_000, "window_s": 600.0})
    names: list[str] = []
    url: str | None = f"{sim.base_url}/v1.0/users/{MAILBOX}/contactFolders/{container}/contacts"
    params: dict[str, str] | None = {"$select": "givenName"}
    async with httpx.AsyncClient(headers={"Authorization": "Bearer t",
                                          "Prefer": 'IdType="ImmutableId", odata.maxpagesize=1000'}) as client:
        while url:
            page = (await client.get(url, params=params)).raise_for_status().json()
            names += [c["givenName"] for c in page["value"]]
            url, params = page.get("@odata.nextLink"), None
    return names


@pytest.mark.slow
async def test_two_thousand_writes_are_paced_not_throttled(throttled_sim: Simulator) -> None:
    pacing = PacingPolicy(requests=BUDGET, window_seconds=600.0 / TIME_SCALE)
    gateway = GraphMailboxGateway.create(None, f"{throttled_sim.base_url}/v1.0", update_batch_size=20,
                                         pacing=pacing, retry=RetryHandlerOption(delay=0, max_retries=5))
    try:
        container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "Load")
        writes = [MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container,
                               record=Contact(first_name=f"C{n}", email=f"c{n}@fabrikam.test"),
                               stamp=f"erp-{n}") for n in range(WRITES)]
        started = time.monotonic()
        # four workers push 100-write slices concurrently, as a busy engine would
        slices = [writes[i:i + 100] for i in range(0, WRITES, 100)]
        queue: asyncio.Queue[list[MailboxWrite]] = asyncio.Queue()
        for part in slices:
            queue.put_nowait(part)
        results = []

        async def worker() -> None:
            while not queue.empty():
                part = queue.get_nowait()
                results.extend(await gateway.apply(MAILBOX, part))

        await asyncio.gather(*(worker() for _ in range(4)))
        elapsed = time.monotonic() - started

        failures = [r.error for r in results if not r.ok]
        assert not failures[:3], f"{len(failures)} writes failed"
        assert len(results) == WRITES

        assert len({r.item.id for r in results if r.item is not None}) == WRITES

        counters = admin(throttled_sim, "GET", "/_sim/counters")[MAILBOX]
        names = await stored_names(throttled_sim, container)
        assert sorted(names) == sorted(f"C{n}" for n in range(WRITES))  # none lost, none twice
        stats = gateway.stats()[MAILBOX]
        logger.warning("2000 writes: %.2fs, sim requests=%d 429s=%d, gateway HTTP requests=%d "
                       "batched cost=%d paced wait=%.2fs", elapsed, counters["requests"],
                       counters["throttled"], stats.requests, stats.cost, stats.waited_seconds)
        assert counters["throttled"] <= 5
        assert counters["requests"] - counters["throttled"] >= WRITES
    finally:
        await gateway.aclose()
