"""The host process SIGKILLed mid-run at three points and restarted against the same Azurite: the
interrupted run's lease expires (``EXSYNC_LEASE_SECONDS=30``), the waiting request runs, and both
sides end with exactly the expected contacts, no duplicate, no lost edit."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import FaultStack, record_outcome
from tests.faults.test_fault_matrix import SLOWDOWN, _add_work, _converged, _wait_graph_count

pytestmark = pytest.mark.asyncio(loop_scope="module")
KILL_AT = (0.15, 0.45, 0.8)  # share of the new contacts in Graph when the host is killed


async def test_host_killed_at_three_points_mid_run_converges_after_restarts(stack: FaultStack) -> None:
    fs = stack
    await fs.clear_faults()
    before = len(await fs.graph_contacts())
    more = 0
    for _ in range(3):  # 45 new contacts: the run is long enough to be killed three times
        expected, edit = await _add_work(fs)
        more += 1
    new = len(expected) - before
    await fs.fault(fs.graph_sim, SLOWDOWN)
    since = await fs.request_sync()
    states = []
    for share in KILL_AT:
        await _wait_graph_count(fs, before + int(new * share), limit=120)
        await asyncio.to_thread(fs.host.kill)
        in_graph = len(await fs.graph_contacts())
        await asyncio.to_thread(fs.host.start)
        states.append((in_graph, (await fs.status())["last_run"]["state"]))
        await fs.request_sync()  # waits (deferred) until the dead run's lease expires, then resumes
    await fs.clear_faults()
    await fs.finished(since, limit=240)
    recovered = await fs.finished(await fs.request_sync(), limit=240)
    final = await _converged(fs, expected, edit)
    record_outcome({"fault": "host SIGKILL x3, restarted on the same Azurite",
                    "point": " / ".join(f"{n - before} of {new}" for n, _ in states),
                    "faulted_run": states[-1][1], "message": "status right after each restart: "
                    + ", ".join(s for _, s in states), "warned_in_log": None, "complete_after_fault": False,
                    "recovery_run": recovered["last_run"]["state"], **final})
    assert fs.host.kills == 3 and more == 3
    assert final["duplicates"] == 0 and final["missing"] == [] and final["extra"] == [], final
    assert final["edit_kept"] and recovered["last_run"]["state"] == "succeeded", (final, recovered)
    assert [n for n, _ in states] == sorted(n for n, _ in states) and states[0][0] < len(expected), states
