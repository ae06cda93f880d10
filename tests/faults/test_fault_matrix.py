"""The fault matrix: a fault at a point of a run, through the real host process, then recovery and one
more run; both simulators end holding exactly the expected records, no duplicate and no lost edit, and
the faulted run's status and log say what happened (a failure is never shown as success).

Each scenario adds new ERP contacts and edits an existing one, so every run has work to do. The
contacts reach Graph in ``$batch`` requests of 5 (the server's ``update_batch_size``) slowed by a
delay-only fault, so "mid" and "late" (a third and two thirds of the new contacts written) can be hit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from typing import Any

import pytest

from tests.faults.conftest import OWNER, FaultStack, record_outcome, v

pytestmark = pytest.mark.asyncio(loop_scope="module")
NEW = 15  # new ERP contacts a scenario adds
_serial = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class FaultCase:
    name: str
    side: str  # "graph" or "erp"
    spec: dict[str, Any]  # a simulator fault (sim.common.parse_fault)
    transient: bool  # the clients' retries are expected to absorb it within the run
    in_run: bool = False  # the faulted run itself must succeed, complete (recovered within the run)


GRAPH_WRITES = {"path": r"\$batch|/contacts", "method": "POST"}
BATCH_WRITES = {"path": r"\$batch", "method": "POST"}
CASES = {c.name: c for c in [
    FaultCase("graph 429 x3 (Retry-After 0)", "graph", {**GRAPH_WRITES, "status": 429, "retry_after": 0, "count": 3},
              True),
    FaultCase("graph 503 until cleared", "graph", {**GRAPH_WRITES, "status": 503, "count": 10_000}, False),
    FaultCase("graph dropped connections x3", "graph", {**GRAPH_WRITES, "drop": True, "count": 3}, True, True),
    FaultCase("graph answers lost x2 (applied, then dropped)", "graph",
              {**BATCH_WRITES, "drop": True, "after": True, "count": 2}, True, True),
    FaultCase("graph 120 s stall of a write (applied, answer held)", "graph",
              {**BATCH_WRITES, "delay_ms": 120_000, "drop": True, "after": True}, True, True),
    FaultCase("graph 120 s stall of a read", "graph",
              {"path": "/delta", "method": "GET", "delay_ms": 120_000, "drop": True}, True, True),
    FaultCase("erp 500 until cleared", "erp", {"path": "/entity/Default", "status": 500, "count": 10_000}, False),
    FaultCase("erp 401 x1 (session expired)", "erp", {"path": "/entity/Default", "status": 401, "count": 1}, True),
    FaultCase("erp 429 x2", "erp", {"path": "/entity/Default", "status": 429, "retry_after": 0, "count": 2}, True),
]}
POINTS = ("start", "mid", "late")
FAST = [("graph 429 x3 (Retry-After 0)", "mid"), ("graph 503 until cleared", "mid"),
        ("graph dropped connections x3", "mid"), ("erp 500 until cleared", "start"),
        ("erp 401 x1 (session expired)", "start"), ("erp 429 x2", "start"),
        ("graph answers lost x2 (applied, then dropped)", "mid"),
        ("graph 120 s stall of a write (applied, answer held)", "mid"), ("graph 120 s stall of a read", "start")]
# ERP reads happen as a run starts, so ERP faults later in a run mostly repeat "start": one of them runs.
SLOW = [(c, p) for c in CASES for p in POINTS if (c, p) not in FAST and "read" not in c  # reads: at start
        and (CASES[c].side == "graph" or (c, p) == ("erp 500 until cleared", "mid"))]
SLOWDOWN = {**GRAPH_WRITES, "status": 200, "delay_ms": 150, "count": 10_000}


async def _add_work(fs: FaultStack) -> tuple[set[str], tuple[str, str] | None]:
    """NEW ERP contacts and an edit of an existing one; the expected e-mails and the edit (email, title)."""
    n = next(_serial)
    existing = await fs.erp_contacts()
    for i in range(NEW):
        await fs.erp_put({"FirstName": v(f"Pat{n}x{i}"), "LastName": v("Doe"), "Owner": v(OWNER),
                          "Email": v(f"pat{n}x{i}@fabrikam.test"), "JobTitle": v("Buyer")})
    edit = None
    if existing:
        target = existing[n % len(existing)]
        title = f"Edited in scenario {n}"
        await fs.erp_put({"id": target["id"], "JobTitle": v(title)})
        edit = (target["Email"]["value"], title)
    return {c["Email"]["value"].lower() for c in await fs.erp_contacts()}, edit


async def _graph_emails(fs: FaultStack) -> list[str]:
    return sorted(a["address"].lower() for c in await fs.graph_contacts() for a in c.get("emailAddresses", [])[:1])


async def _wait_graph_count(fs: FaultStack, at_least: int, limit: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while len(await fs.graph_contacts()) < at_least:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"Graph never reached {at_least} contacts")
        await asyncio.sleep(0.1)


async def _inject(fs: FaultStack, case: FaultCase) -> None:
    await fs.clear_faults()  # faults match first-come: the fault goes before the slowdown
    await fs.fault(fs.graph_sim if case.side == "graph" else fs.erp_sim, case.spec)
    await fs.fault(fs.graph_sim, SLOWDOWN)


async def _converged(fs: FaultStack, expected: set[str], edit: tuple[str, str] | None) -> dict[str, Any]:
    graph = await _graph_emails(fs)
    duplicates = len(graph) - len(set(graph))
    titles = {a["address"].lower(): c.get("jobTitle") for c in await fs.graph_contacts()
              for a in c.get("emailAddresses", [])[:1]}
    return {"graph": len(graph), "erp": len(expected), "duplicates": duplicates,
            "missing": sorted(expected - set(graph)), "extra": sorted(set(graph) - expected),
            "edit_kept": edit is None or titles.get(edit[0].lower()) == edit[1]}


async def run_scenario(fs: FaultStack, case: FaultCase, point: str) -> dict[str, Any]:
    expected, edit = await _add_work(fs)
    before = len(await fs.graph_contacts())
    log_before = len(await fs.log())
    host_log_before = len(fs.host.log())
    await fs.clear_faults()
    await fs.fault(fs.graph_sim, SLOWDOWN)
    if point == "start":
        await _inject(fs, case)
    since = await fs.request_sync()
    if point != "start":
        await _wait_graph_count(fs, before + (NEW // 3 if point == "mid" else 2 * NEW // 3))
        await _inject(fs, case)
    faulted = await fs.finished(since)
    host_log = fs.host.log()[host_log_before:]
    new_log = (await fs.log())[: max(0, len(await fs.log()) - log_before)]
    mid_state = await _converged(fs, expected, edit)
    await fs.clear_faults()
    recovered = await fs.finished(await fs.request_sync())
    final = await _converged(fs, expected, edit)
    run = faulted["last_run"]
    row = {"fault": case.name, "point": point, "faulted_run": run["state"], "message": run["message"],
           "warned_in_log": any(e["level"] in ("warning", "error") for e in new_log),
           "complete_after_fault": not mid_state["missing"], "recovery_run": recovered["last_run"]["state"],
           "network_failures": host_log.count("settling") + host_log.count("network failure on"),
           **final}
    record_outcome(row)
    return row


def _check(row: dict[str, Any], case: FaultCase) -> None:
    assert row["duplicates"] == 0 and row["missing"] == [] and row["extra"] == [], row
    assert row["edit_kept"], row
    assert row["recovery_run"] == "succeeded", row
    if row["faulted_run"] == "succeeded":  # never a failure shown as success
        assert row["complete_after_fault"], row
    else:
        assert row["message"] and row["warned_in_log"], row
    if case.in_run:  # recovered within the run, not only on the next one
        assert row["faulted_run"] == "succeeded" and row["complete_after_fault"], row
        if row["point"] != "late":  # late, the last batch may be on its way before the fault is set
            assert row["network_failures"] >= 1, row  # the fault did strike
    if not case.transient and row["point"] == "start":  # later, the run may have read that side already
        assert row["faulted_run"] != "succeeded", row


@pytest.mark.parametrize(("name", "point"), FAST, ids=[f"{n} @ {p}" for n, p in FAST])
async def test_fault_then_recovery_converges(stack: FaultStack, name: str, point: str) -> None:
    _check(await run_scenario(stack, CASES[name], point), CASES[name])


@pytest.mark.slow
@pytest.mark.parametrize(("name", "point"), SLOW, ids=[f"{n} @ {p}" for n, p in SLOW])
async def test_fault_then_recovery_converges_at_every_point(stack: FaultStack, name: str, point: str) -> None:
    _check(await run_scenario(stack, CASES[name], point), CASES[name])
