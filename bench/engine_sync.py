"""Benchmark: the sync engine over the in-memory twins — throughput and peak memory per record count.

``python -m bench.engine_sync [--sizes 500,2000,5000] [--page 100]``

For each size N it seeds N ERP contacts owned by one employee, runs a first sync (N mailbox
creates), edits 10 % on each side, runs a second sync, then a quiet third sync, and prints the
wall time of each run. A separate first run under tracemalloc reports the transient peak heap
(above what stays allocated afterwards) and the retained heap (the twins' items and the links): a
transient peak that stays flat as N grows shows the engine holds a page, not the whole set.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
import tracemalloc
from typing import Any

from shared.admin.status import record_outcome
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import Contact, RecordType
from shared.domain.status import RunSummary
from shared.erp.memory import InMemoryErpGateway
from shared.graph.memory import InMemoryMailboxGateway, TickingClock
from shared.ports import SyncJob
from shared.state.memory import InMemoryStateStore
from shared.sync.run import sync

MAILBOX = "ann@contoso.test"
EMPLOYEE = "EP1"


@dataclasses.dataclass
class World:
    erp: InMemoryErpGateway
    mailbox_gateway: InMemoryMailboxGateway
    state: InMemoryStateStore
    clock: TickingClock
    server: ServerConfig
    policy: SyncPolicy
    mailbox: Mailbox

    async def run(self, run_id: str) -> RunSummary:
        outcome = await sync(SyncJob(mailbox=self.mailbox, server=self.server, policy=self.policy,
                                     mailbox_gateway=self.mailbox_gateway, erp_gateway=self.erp, state=self.state,
                                     clock=self.clock, run_id=run_id, record_types=(RecordType.CONTACT,)))
        await record_outcome(self.state, self.mailbox.email, outcome)  # as the worker does
        return outcome.summary


def build(size: int, page: int) -> World:
    clock = TickingClock()
    erp = InMemoryErpGateway(clock)
    for n in range(size):
        erp.user_create(RecordType.CONTACT, Contact(first_name=f"First{n}", last_name=f"Last{n}",
                                                    email=f"c{n}@fabrikam.test", company="Fabrikam"),
                        owner=EMPLOYEE)
    server = ServerConfig(name="bench", select_batch_size=page, update_batch_size=25)
    return World(erp, InMemoryMailboxGateway(clock), InMemoryStateStore(clock), clock, server,
                 SyncPolicy(name="default"), Mailbox(email=MAILBOX, server="bench", employee_id=EMPLOYEE))


def edit_both_sides(world: World, share: float) -> int:
    erp_items = world.erp.items(RecordType.CONTACT)
    count = int(len(erp_items) * share)
    for item in erp_items[:count]:
        world.erp.user_update(item.id, dataclasses.replace(item.record, job_title="Buyer"))
    return count


async def heap_of_first_run(size: int, page: int) -> tuple[float, float]:
    """(transient peak, retained) heap of a first run in MiB; retained is the twins' and links' growth."""
    world = build(size, page)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    await world.run("heap")
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - after) / 2**20, (after - before) / 2**20


async def timed(world: World, run_id: str) -> tuple[float, RunSummary]:
    started = time.perf_counter()
    summary = await world.run(run_id)
    return time.perf_counter() - started, summary


def writes(summary: RunSummary) -> int:
    return sum(c.writes for c in summary.counts.values())


async def measure(size: int, page: int) -> dict[str, Any]:
    world = build(size, page)
    first_s, first = await timed(world, "first")
    edited = edit_both_sides(world, 0.1)
    second_s, second = await timed(world, "second")
    quiet_s, quiet = await timed(world, "quiet")
    transient, retained = await heap_of_first_run(size, page)
    return {
        "contacts": size, "page": page,
        "first_run_s": round(first_s, 3), "first_run_per_item_ms": round(first_s / size * 1000, 3),
        "first_state": first.state.value, "first_writes": writes(first),
        "edited": edited, "second_run_s": round(second_s, 3), "second_writes": writes(second),
        "quiet_run_s": round(quiet_s, 3), "quiet_writes": writes(quiet),
        "transient_peak_heap_mb": round(transient, 2), "retained_heap_mb": round(retained, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000")
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(asyncio.run(measure(size, args.page))), flush=True)


if __name__ == "__main__":
    main()
