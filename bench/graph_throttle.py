"""Benchmark: N contact creates into one mailbox through GraphMailboxGateway against the simulator.

``python -m bench.graph_throttle [--writes 2000] [--time-scale 200] [--rate-limit 1000] [--workers 4]``
prints the duration, the simulator's request and 429 counts, and the gateway's pacing stats; then
reads everything back through the delta listing (pages of 100, stamps filled in) and prints that too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
from kiota_http.middleware.options import RetryHandlerOption

from devhost.services import start_simulator
from shared.domain.records import Contact, RecordType
from shared.graph.gateway import GraphMailboxGateway, warm_up
from shared.graph.pacing import PacingPolicy
from shared.ports import MailboxItem, MailboxWrite, WriteKind

MAILBOX = "load@contoso.test"


async def run(base: str, writes: int, time_scale: float, budget: int, workers: int,
              batch: int) -> dict[str, Any]:
    pacing = PacingPolicy(requests=budget, window_seconds=600.0 / time_scale)
    gateway = GraphMailboxGateway.create(None, f"{base}/v1.0", update_batch_size=batch, pacing=pacing,
                                         retry=RetryHandlerOption(delay=0, max_retries=5))
    await warm_up()
    try:
        container = await gateway.ensure_container(MAILBOX, RecordType.CONTACT, "Load")
        queue: asyncio.Queue[list[MailboxWrite]] = asyncio.Queue()
        items = [MailboxWrite(WriteKind.CREATE, RecordType.CONTACT, container,
                              record=Contact(first_name=f"C{n}", email=f"c{n}@fabrikam.test"), stamp=f"erp-{n}")
                 for n in range(writes)]
        for i in range(0, writes, 100):
            queue.put_nowait(items[i:i + 100])
        ok = 0

        async def worker() -> None:
            nonlocal ok
            while not queue.empty():
                part = queue.get_nowait()
                results = await gateway.apply(MAILBOX, part)
                ok += sum(1 for r in results if r.ok)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.monotonic() - started
        stats = gateway.stats()[MAILBOX.lower()]
        before = stats.cost
        read_started = time.monotonic()
        cursor, pages, listed, stamped = None, 0, 0, 0
        while True:
            page = await gateway.list_changes(MAILBOX, RecordType.CONTACT, container, cursor, 100)
            pages += 1
            listed += sum(1 for e in page.items if isinstance(e, MailboxItem))
            stamped += sum(1 for e in page.items if isinstance(e, MailboxItem) and e.stamp)
            cursor = page.cursor
            if page.complete:
                break
        read_seconds = time.monotonic() - read_started
        read_cost = gateway.stats()[MAILBOX.lower()].cost - before
        async with httpx.AsyncClient() as admin:
            counters = (await admin.get(f"{base}/_sim/counters")).json()[MAILBOX]
        return {"writes": writes, "ok": ok, "seconds": round(elapsed, 2),
                "writes_per_second": round(writes / elapsed, 1),
                "sim_requests": counters["requests"], "sim_429": counters["throttled"],
                "http_requests": stats.requests, "batched_cost": stats.cost,
                "paced_wait_s": round(stats.waited_seconds, 2),
                "server_floor_seconds": round(max(0, writes - budget) / (budget / (600.0 / time_scale)), 2),
                "paced_floor_seconds": round(max(0.0, writes - pacing.usable / 10)
                                             / ((pacing.usable * 0.9) / pacing.window_seconds), 2),
                "read_items": listed, "read_stamped": stamped, "read_pages": pages,
                "read_seconds": round(read_seconds, 2), "read_request_cost": read_cost}
    finally:
        await gateway.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--time-scale", type=float, default=200.0)
    parser.add_argument("--rate-limit", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    sim = start_simulator("sim.graph", ["--users", MAILBOX, "--time-scale", str(args.time_scale),
                                        "--rate-limit", str(args.rate_limit), "--latency-ms", str(args.latency_ms)])
    try:
        result = asyncio.run(run(sim.base_url, args.writes, args.time_scale, args.rate_limit, args.workers,
                                 args.batch))
    finally:
        sim.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
