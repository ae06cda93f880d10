"""``pip install <clone>`` in a new virtual environment gives a working ``exsync`` command: its
declared dependencies only, no simulators, local host or tests, and ``exsync status`` against the
serve stack (the code ``make serve`` runs)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from devhost.serve import running_stack
from devhost.services import free_port
from tests.deploy.conftest import run

pytestmark = pytest.mark.slow

ANN = "ann@contoso.test"


def _site_packages(bin_dir: Path) -> Path:
    return next((bin_dir.parent / "lib").glob("python3*/site-packages"))


def test_installs_the_command_and_only_the_application_package(cli_venv: Path) -> None:
    site = _site_packages(cli_venv)
    top = {p.name for p in site.iterdir()}
    assert "shared" in top and (site / "shared" / "graph_permissions.json").exists()
    assert not top & {"sim", "devhost", "tests", "bench", "functions", "function_app.py"}
    assert {"httpx", "rich"} <= top
    assert not top & {"msgraph", "azure"}  # the Function App's dependencies are not the CLI's
    assert run(cli_venv / "exsync", "--version").strip() == "exsync 0.1.0"
    helptext = run(cli_venv / "exsync", "--help")
    for command in ("policies", "servers", "mailboxes", "sync", "status", "log", "doctor"):
        assert command in helptext


async def _exsync(bin_dir: Path, *argv: str) -> tuple[int, str]:
    """The installed command in a child process (the stack serves on this event loop meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        str(bin_dir / "exsync"), *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"PATH": os.environ["PATH"], "COLUMNS": "200", "NO_COLOR": "1"})
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def test_status_against_the_serve_stack(cli_venv: Path) -> None:
    async with running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(), key="cli-key",
                             timers=False) as stack:
        base = ["--url", stack.api, "--key", stack.key]
        code, out = await _exsync(cli_venv, *base, "status")
        assert code == 0 and "no mailboxes are configured" in out, out
        async with httpx.AsyncClient(base_url=stack.graph.base_url) as graph:
            assert (await graph.post("/_sim/users", json={"userPrincipalName": ANN})).status_code == 201
        async with httpx.AsyncClient(base_url=stack.api, headers={"x-functions-key": stack.key}) as api:
            r = await api.post("/servers", json={"name": "m365", "graph_base_url": f"{stack.graph.base_url}/v1.0"})
            assert r.status_code == 201, r.text
            r = await api.put(f"/servers/m365/mailboxes/{ANN}", json={"employee_id": "EP00000001"})
            assert r.status_code == 201, r.text
        code, out = await _exsync(cli_venv, *base, "status")
        assert code == 0, out
        row = next(line for line in out.splitlines() if ANN in line)
        assert "m365" in row and "never run" in row and "idle" in row, out
        code, out = await _exsync(cli_venv, "--url", stack.api, "--key", "wrong", "status")
        assert code == 1 and "function key" in out, out
