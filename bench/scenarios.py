"""The benchmark's rows: each builds its own tenant on the stack, runs the worker and measures.

Every row returns a plain dict (figures, counts with their per-endpoint detail, sizes); the
targets and the met / missed verdicts are :mod:`bench.targets`'s. Counts come from the simulators'
journals and the Azure SDK transport meter (:mod:`bench.stack`), times from ``time.monotonic``.
Sizes are parameters so ``make bench QUICK=1`` runs the same code on a smaller tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from bench.cpu import CpuMeter
from bench.stack import Bench, Counts, Profile, add_graph_users, graph_user_batch, seed_erp
from shared.admin import erp_feed
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import Contact, RecordType
from shared.domain.status import RunState, RunSummary
from shared.erp.mapping import contact_from_domain

CONTACTS_ONLY = (RecordType.CONTACT,)
NEXT_CYCLE_SECONDS = 300
"""How far the ERP's clock moves between the export and the next cycle: a scheduled cycle comes
minutes later, when the ERP listing's two-minute overlap window no longer holds the export's rows
(run back to back, the 1 % cycle would re-list every just-seeded contact: 24 pages of 2,000)."""
SERVER = ServerConfig(name="bench", select_batch_size=100, update_batch_size=20)


def employee(n: int) -> str:
    return f"EP{n:08d}"


def contacts_policy() -> SyncPolicy:
    return SyncPolicy(name="contacts", emails={"enabled": False}, tasks={"enabled": False},
                      events={"enabled": False})


@dataclasses.dataclass
class Env:
    """What every row gets: the stack's URLs and connection string, and the profile."""

    graph_url: str
    erp_url: str
    connection_string: str
    profile: Profile
    pids: dict[str, int] = dataclasses.field(default_factory=dict)
    """The stack's processes (:meth:`bench.stack.Stack.pids`) whose CPU a row accounts for."""

    @contextlib.asynccontextmanager
    async def time_scaled(self, time_scale: float) -> AsyncIterator[Env]:
        """This stack with the Graph simulator's window (and the pacer's) shrunk ``time_scale``-fold
        for the block (``POST /_sim/throttling``), put back after it."""
        scaled = dataclasses.replace(self, profile=self.profile.scaled(time_scale))
        await _graph_window(self.graph_url, 600.0 * self.profile.graph_time_scale / time_scale)
        try:
            yield scaled
        finally:
            await _graph_window(self.graph_url, 600.0)

    @contextlib.asynccontextmanager
    async def bench(self, policy: SyncPolicy, mailboxes: Sequence[Mailbox]) -> AsyncIterator[Bench]:
        await add_graph_users(self.graph_url, [m.email for m in mailboxes])
        await seed_erp(self.erp_url, "Employee", [
            {"EmployeeID": {"value": m.employee_id}, "EmployeeName": {"value": m.email}} for m in mailboxes
            if m.employee_id != employee(1)])
        bench = await Bench.open(self.graph_url, self.erp_url, self.connection_string, self.profile)
        try:
            await bench.configure(SERVER, policy, list(mailboxes))
            await bench.gateway.ensure_category(mailboxes[0].email, policy.category.name, policy.category.color)
            yield bench
        finally:
            await bench.aclose()


def checked(summary: RunSummary) -> RunSummary:
    if summary.state is RunState.FAILED:
        raise RuntimeError(f"benchmark run failed: {summary.message}")
    return summary


async def timed_sync(bench: Bench, email: str, types: tuple[RecordType, ...] | None = None,
                     cpu: dict[str, Any] | None = None, meter: CpuMeter | None = None, items: int | None = None,
                     ) -> tuple[float, Counts, RunSummary]:
    """One run's wall time, counts and summary; with ``meter``, its CPU figures and the services'
    busy seconds (:mod:`bench.busy`) into ``cpu`` (sampled right around the run, not around the
    journal reads of the counts)."""
    with bench.meter.span() as counts:
        start = meter.sample() if meter is not None else None
        busy = bench.busy.snapshot()
        started = time.monotonic()
        summary = checked(await bench.sync_types(email, types))
        elapsed = time.monotonic() - started
        if meter is not None and start is not None and cpu is not None:
            cpu.update(meter.since(start, items))
            cpu.update(bench.busy.since(busy, elapsed))
    return elapsed, counts[0], summary


def erp_contacts(owner: str, count: int, tag: str) -> list[dict[str, Any]]:
    return [contact_from_domain(Contact(first_name=f"First{n}", last_name=f"{tag}{n}",
                                        email=f"{tag.lower()}{n}@fabrikam.test", company="Fabrikam"), owner=owner)
            for n in range(count)]


# ---------------------------------------------------------------- rows


async def idle_cycle(env: Env) -> dict[str, Any]:
    """One mailbox, all four types, nothing changed since the last cycle (the tenant feed's read
    included: for a one-mailbox tenant the whole cycle is this mailbox's)."""
    mailbox = Mailbox(email="idle@contoso.test", server=SERVER.name, employee_id=employee(1))
    policy = SyncPolicy(name="all")
    async with env.bench(policy, [mailbox]) as bench:
        await seed_erp(env.erp_url, "Contact", erp_contacts(employee(1), 3, "Idle"))
        for _ in range(2):  # the first cycle syncs (and starts the feed), the second settles
            await _cycle(bench, [mailbox], None)
        with bench.meter.span() as counts:
            await _cycle(bench, [mailbox], None)
    return {"counts": counts[0].as_dict()}


async def export_then_one_percent(env: Env, size: int) -> dict[str, Any]:
    """``size`` ERP contacts into an empty mailbox (its cost includes the next cycle, which reads
    the creates back from the delta); then 1 % edited on each side and one cycle."""
    mailbox = Mailbox(email="export@contoso.test", server=SERVER.name, employee_id=employee(2))
    async with env.bench(contacts_policy(), [mailbox]) as bench:
        created = await seed_erp(env.erp_url, "Contact", erp_contacts(mailbox.employee_id, size, "Export"))
        cpu: dict[str, Any] = {}
        wall, counts, summary = await timed_sync(bench, mailbox.email, CONTACTS_ONLY, cpu, CpuMeter(env.pids), size)
        await advance_erp_clock(env.erp_url, NEXT_CYCLE_SECONDS)
        # the next cycle reads the export's own creates back from the mailbox delta: part of its cost
        _, echo, _ = await timed_sync(bench, mailbox.email, CONTACTS_ONLY)
        floor = size * env.profile.graph_seconds_per_request()
        latency_floor = env.profile.graph_latency_floor(size, SERVER.update_batch_size)
        export = {"items": size, "wall_s": round(wall, 2), "throttle_floor_s": round(floor, 2),
                  "wall_over_floor": round(wall / floor, 2), "latency_floor_s": round(latency_floor, 2),
                  "wall_over_latency_floor": round(wall / latency_floor, 2) if latency_floor else None,
                  "graph_per_item": round((counts.graph + echo.graph) / size, 3),
                  "erp_per_item": round((counts.erp + echo.erp) / size, 3),
                  "table_per_item": round((counts.table + echo.table) / size, 3),
                  "counts": counts.as_dict(), "echo_counts": echo.as_dict(),
                  "writes": sum(c.writes for c in summary.counts.values()), "cpu": cpu}
        changed = max(1, size // 100)
        await seed_erp(env.erp_url, "Contact", [{"id": r["id"], "JobTitle": {"value": "Buyer"}}
                                                for r in created[:changed]])
        await _edit_mailbox_contacts(bench, mailbox.email, created[-changed:], "Director")
        wall2, counts2, summary2 = await timed_sync(bench, mailbox.email, CONTACTS_ONLY)
        one = {"changed_per_side": changed, "wall_s": round(wall2, 2),
               "graph_per_changed": round(counts2.graph / (2 * changed), 3),
               "erp_per_changed": round(counts2.erp / (2 * changed), 3),
               "table_per_changed": round(counts2.table / (2 * changed), 3),
               "counts": counts2.as_dict(), "writes": sum(c.writes for c in summary2.counts.values())}
    return {"export": export, "one_percent": one}


async def _graph_window(graph_url: str, window_s: float) -> None:
    """Set the Graph simulator's throttle window (seconds before its time scale divides it)."""
    async with httpx.AsyncClient(base_url=graph_url, timeout=30) as client:
        response = await client.post("/_sim/throttling", json={"window_s": window_s})
        response.raise_for_status()


async def advance_erp_clock(erp_url: str, seconds: float) -> None:
    """Move the Acumatica simulator's clock forward (``POST /_sim/clock``), as if time passed."""
    async with httpx.AsyncClient(base_url=erp_url, timeout=30) as client:
        response = await client.post("/_sim/clock", json={"advance_seconds": seconds})
        response.raise_for_status()


async def _edit_mailbox_contacts(bench: Bench, email: str, erp_records: list[dict[str, Any]], title: str) -> None:
    """Edit in Outlook the mailbox copies of these ERP records (found through their links)."""
    requests = []
    for record in erp_records:
        link = await bench.store.get_link_by_erp(email, RecordType.CONTACT, record["id"])
        assert link is not None, "the export linked every record"
        requests.append({"method": "PATCH", "url": f"/users/{email}/contacts/{link.mailbox_id}",
                         "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": title}})
    answers = await graph_user_batch(bench.graph_url, requests)
    assert all(a["status"] < 300 for a in answers), answers[:1]


async def initial_import(env: Env, size: int) -> dict[str, Any]:
    """``size`` tagged mailbox contacts into the ERP (merge by e-mail on), with the peak RSS."""
    mailbox = Mailbox(email="import@contoso.test", server=SERVER.name, employee_id=employee(3))
    policy = contacts_policy()
    async with env.bench(policy, [mailbox]) as bench:
        answers = await graph_user_batch(env.graph_url, [
            {"method": "POST", "url": f"/users/{mailbox.email}/contacts",
             "headers": {"Content-Type": "application/json"},
             "body": {"givenName": f"Imported{n}", "surname": "Contact", "categories": [policy.category.name],
                      "emailAddresses": [{"address": f"imported{n}@northwind.test"}]}} for n in range(size)])
        assert all(a["status"] == 201 for a in answers), answers[:1]
        peak = RssPeak()
        cpu = time.process_time()
        async with peak.sampling():
            wall, counts, _ = await timed_sync(bench, mailbox.email, CONTACTS_ONLY)
        cpu = time.process_time() - cpu   # the worker's own CPU (not the simulators' or Azurite's)
    return {"items": size, "wall_s": round(wall, 2), "items_per_s": round(size / wall, 1),
            "erp_per_item": round(counts.erp / size, 3), "graph_per_item": round(counts.graph / size, 3),
            "worker_cpu_s": round(cpu, 2), "worker_cpu_ms_per_item": round(1000 * cpu / size, 2),
            "rss_peak_mb": round(peak.peak_mb, 1), "counts": counts.as_dict()}


async def idle_tenant(env: Env, sizes: Sequence[int]) -> dict[str, Any]:
    """ERP requests of one scheduled cycle over N idle mailboxes, for each N."""
    out: dict[str, Any] = {}
    base = 100
    for size in sizes:
        mailboxes = [Mailbox(email=f"t{base + i}@contoso.test", server=SERVER.name, employee_id=employee(base + i))
                     for i in range(size)]
        base += size
        async with env.bench(contacts_policy(), mailboxes) as bench:
            await _cycle(bench, mailboxes)  # first run of each mailbox
            with bench.meter.span() as counts:
                await _cycle(bench, mailboxes)
        out[str(size)] = {"erp": counts[0].erp, "erp_per_mailbox": round(counts[0].erp / size, 2),
                          "graph": counts[0].graph, "table": counts[0].table, "erp_detail": counts[0].detail["erp"]}
    return out


async def fan_out(env: Env, mailboxes_count: int, changed: int) -> dict[str, Any]:
    """A quiet cycle, then ``changed`` ERP contacts of an employee no mailbox syncs, then a cycle."""
    mailboxes = [Mailbox(email=f"f{i}@contoso.test", server=SERVER.name, employee_id=employee(1000 + i))
                 for i in range(mailboxes_count)]
    async with env.bench(contacts_policy(), mailboxes) as bench:
        await seed_erp(env.erp_url, "Employee", [{"EmployeeID": {"value": employee(999)},
                                                  "EmployeeName": {"value": "Not synced"}}])
        await _cycle(bench, mailboxes)
        quiet_wall, quiet = await _timed_cycle(bench, mailboxes)
        await seed_erp(env.erp_url, "Contact", erp_contacts(employee(999), changed, "Fan"))
        busy_wall, busy = await _timed_cycle(bench, mailboxes)
    n = mailboxes_count
    return {"mailboxes": n, "changed": changed,
            "quiet": {"wall_s": round(quiet_wall, 2), "erp_per_mailbox": round(quiet.erp / n, 2)},
            "after_change": {"wall_s": round(busy_wall, 2), "erp_per_mailbox": round(busy.erp / n, 2)},
            "cost_ratio_wall": round(busy_wall / quiet_wall, 2),
            "cost_ratio_erp": round(busy.erp / max(1, quiet.erp), 2)}


async def _cycle(bench: Bench, mailboxes: Sequence[Mailbox],
                 types: tuple[RecordType, ...] | None = CONTACTS_ONLY) -> None:
    """One scheduled cycle: the tenant ERP feed read once (:func:`shared.admin.erp_feed.tick`),
    then every mailbox's run, as many at once as the ERP's sessions allow."""
    await erp_feed.tick(bench.rt)
    results = await asyncio.gather(*(bench.sync_types(m.email, types) for m in mailboxes))
    for summary in results:
        checked(summary)


async def _timed_cycle(bench: Bench, mailboxes: Sequence[Mailbox]) -> tuple[float, Counts]:
    with bench.meter.span() as counts:
        started = time.monotonic()
        await _cycle(bench, mailboxes)
        elapsed = time.monotonic() - started
    return elapsed, counts[0]


class RssPeak:
    """Peak resident set size of this process while :meth:`sampling` runs (``/proc/self/status``)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0

    def sample(self) -> None:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)

    @contextlib.asynccontextmanager
    async def sampling(self, every: float = 0.05) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                self.sample()
                await asyncio.sleep(every)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            self.sample()
