"""``python -m devhost.serve`` as a user runs it: prints ``ready``, serves with the function key, and
Ctrl-C (SIGINT) stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devhost.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out |= {int(p) for p in text}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_serve_prints_ready_and_ctrl_c_stops_everything() -> None:
    port = free_port()
    env = {**os.environ, "SERVE_PORT": str(port), "SIM_GRAPH_PORT": str(free_port()),
           "SIM_ERP_PORT": str(free_port()), "EXSYNC_FUNCTION_KEY": "serve-key", "EXSYNC_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "devhost.serve"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == "ready" or time.monotonic() > deadline:
                break
        assert lines and lines[-1].strip() == "ready", "".join(lines)
        assert any("serve-key" in line for line in lines)
        base = f"http://127.0.0.1:{port}/api"
        assert httpx.get(f"{base}/policies", timeout=10).status_code == 401
        assert httpx.get(f"{base}/policies", headers={"x-functions-key": "serve-key"}, timeout=10).json() == []
        children = _children(proc.pid)
        assert len(children) >= 4  # azurite table + queue, two simulators
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [c for c in children if _alive(c)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
