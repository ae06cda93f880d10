"""One Graph simulator per test process, shared by the gateway's test modules.

Starting ``sim.graph`` takes seconds on a busy machine, so the contract suite, the resilience
tests and the throttling test share one process (stopped at exit, by its PID). Each test
resets it (``/_sim/reset`` keeps the users and restores the throttling limits).
"""

from __future__ import annotations

import atexit
import json
import urllib.request
from typing import Any

from devhost.services import Simulator, start_simulator

USERS = ("ann@contoso.test", "bob@contoso.test", "res@contoso.test", "load@contoso.test")
_running: dict[str, Simulator] = {}


def graph_simulator() -> Simulator:
    """The shared simulator, started on first use."""
    sim = _running.get("sim")
    if sim is None or sim.process.proc.poll() is not None:
        sim = start_simulator("sim.graph", ["--users", ",".join(USERS)], timeout=60)
        _running["sim"] = sim
        atexit.register(sim.stop)
    return sim


def admin(sim: Simulator, method: str, path: str, body: Any = None) -> Any:
    """Call the simulator's ``/_sim`` admin surface."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{sim.base_url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def fresh(sim: Simulator) -> None:
    """Empty mailboxes, no pending faults, default throttling."""
    admin(sim, "POST", "/_sim/reset")
    admin(sim, "DELETE", "/_sim/faults")
