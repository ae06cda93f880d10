"""Two real host processes on one Azurite queue, the sync message delivered four times: one run does the
work, the other three copies end quietly (the mailbox lease and the waiting request), both simulators end
with exactly the expected contacts and the hosts' logs say what each copy did.

The copies are sent while the run is under way: the local host handles a batch of messages before it
polls again (like the Functions host with ``batchSize``), so the other host takes them and meets the lease.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from azure.storage.queue.aio import QueueClient

from devhost.services import free_port
from shared.ports import SyncRequest
from tests.faults.conftest import ANN, FaultStack, HostProcess, record_outcome
from tests.faults.test_fault_matrix import SLOWDOWN, _add_work, _converged

pytestmark = pytest.mark.asyncio(loop_scope="module")
COPIES = 3  # duplicates of the one sync message, on top of the original


async def _drained(queue: QueueClient, limit: float = 120.0) -> None:
    """Wait until no message is left (deferred copies come back after the lease's heartbeat)."""
    deadline = asyncio.get_running_loop().time() + limit
    while (await queue.get_queue_properties()).approximate_message_count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the sync queue never drained")
        await asyncio.sleep(0.5)


async def _running(fs: FaultStack, run_id: str, limit: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while ((await fs.status())["last_run"] or {}).get("run_id") != run_id \
            or (await fs.status())["last_run"]["state"] != "running":
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run {run_id} never started")
        await asyncio.sleep(0.1)


async def test_two_hosts_on_one_queue_with_duplicate_messages_run_the_work_once(stack: FaultStack) -> None:
    fs = stack
    second = HostProcess({**fs.host.env, "SERVE_PORT": str(port := free_port())}, port)
    await asyncio.to_thread(second.start)
    queue = QueueClient.from_connection_string(fs.host.env["AzureWebJobsStorage"], fs.host.env["EXSYNC_SYNC_QUEUE"])
    try:
        await fs.clear_faults()
        expected, edit = await _add_work(fs)
        await fs.fault(fs.graph_sim, {**SLOWDOWN, "delay_ms": 600})  # the copies arrive while it runs
        since = datetime.now(UTC).isoformat()
        resp = await fs.api.post(f"{second.api}/sync", json={"mailboxes": [ANN]})  # through the second host
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["run_id"]
        await _running(fs, run_id)  # the host running it polls no more: the other one takes the copies
        message = SyncRequest(ANN, run_id, "manual").encode()
        for _ in range(COPIES):
            await queue.send_message(message)
        status = await fs.finished(since)
        await _drained(queue)
        await fs.clear_faults()
        final = await _converged(fs, expected, edit)
        logs = fs.host.log() + second.log()
        seen = [len(re.findall(rf"(?:run|request) {run_id}", h.log())) for h in (fs.host, second)]
        ran = len(re.findall(rf"run {run_id}: syncing a mailbox", logs))
        ended = len(re.findall(rf"sync request {run_id} was already run; message ends", logs))
        waited = len(re.findall(rf"mailbox busy; sync request {run_id} waits", logs))
    finally:
        await queue.close()
        await asyncio.to_thread(second.stop)
    record_outcome({"fault": f"two hosts on one queue, the message x{COPIES + 1}", "point": "start",
                    "faulted_run": status["last_run"]["state"], "message": f"ran once; {ended} copies ended "
                    f"as already run, {waited} deferrals while the lease was held; log lines per host {seen}",
                    "warned_in_log": None,
                    "complete_after_fault": not final["missing"], "recovery_run": status["last_run"]["state"],
                    "network_failures": None, **final})
    assert final["duplicates"] == 0 and final["missing"] == [] and final["extra"] == [], final
    assert final["edit_kept"] and status["last_run"]["state"] == "succeeded", (final, status["last_run"])
    assert (ran, ended) == (1, COPIES), (ran, ended, waited, logs[-3000:])
    assert min(seen) >= 1 and waited >= 1, (seen, waited)  # both hosts handled the mailbox's messages
