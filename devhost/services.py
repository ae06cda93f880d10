"""Child processes for local runs: Azurite (tables + queues) and the two simulators.

Each service is started on a free loopback port, waited for until it answers, and stopped
by the PID we started (never by name), so tests and the demo need nothing started by hand.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / "node_modules" / "azurite" / "dist" / "src"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class ServiceError(RuntimeError):
    """A local service failed to start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclasses.dataclass
class ManagedProcess:
    """A child process we started; ``lines`` collects its output for diagnostics."""

    name: str
    proc: subprocess.Popen[str]
    lines: list[str] = dataclasses.field(default_factory=list)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process we started (by PID), killing it if it does not exit."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

    def output(self) -> str:
        return "".join(self.lines[-50:])


def start_process(name: str, cmd: Sequence[str], *, ready_text: str | None = None,
                  ready_port: int | None = None, timeout: float = 30.0,
                  env: dict[str, str] | None = None, cwd: Path | None = None) -> ManagedProcess:
    """Start ``cmd`` and wait until it prints ``ready_text`` or ``ready_port`` accepts connections."""
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        cwd=str(cwd or ROOT), env={**os.environ, **(env or {})},
    )
    managed = ManagedProcess(name, proc)
    seen = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            managed.lines.append(line)
            if ready_text and ready_text in line:
                seen.set()

    threading.Thread(target=pump, name=f"{name}-output", daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{name} exited with {proc.returncode}:\n{managed.output()}")
        if (ready_text is None or seen.is_set()) and (ready_port is None or _port_open(ready_port)):
            return managed
        time.sleep(0.05)
    managed.stop()
    raise ServiceError(f"{name} did not become ready in {timeout:.0f}s:\n{managed.output()}")


@dataclasses.dataclass
class Azurite:
    """Running Azurite table + queue services."""

    table_port: int
    queue_port: int
    processes: list[ManagedProcess]
    workdir: Path

    @property
    def connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{ACCOUNT};"
        )

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_azurite(table_port: int | None = None, queue_port: int | None = None) -> Azurite:
    """Start Azurite's table and queue services in memory on free loopback ports."""
    node = shutil.which("node")
    if node is None:
        raise ServiceError("node is not installed; Azurite needs Node.js 20+")
    if not (AZURITE / "table" / "main.js").exists():
        raise ServiceError("Azurite is missing; run `npm ci` (make does it for you)")
    workdir = Path(tempfile.mkdtemp(prefix="exsync-azurite-"))
    common = ["--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent"]
    table_port = table_port or free_port()
    queue_port = queue_port or free_port()
    started: list[ManagedProcess] = []
    try:
        started.append(start_process("azurite-table", [
            node, str(AZURITE / "table" / "main.js"), "--tableHost", "127.0.0.1",
            "--tablePort", str(table_port), *common], ready_port=table_port, cwd=workdir))
        started.append(start_process("azurite-queue", [
            node, str(AZURITE / "queue" / "main.js"), "--queueHost", "127.0.0.1",
            "--queuePort", str(queue_port), *common], ready_port=queue_port, cwd=workdir))
    except BaseException:
        for proc in started:
            proc.stop()
        raise
    return Azurite(table_port, queue_port, started, workdir)


@contextlib.contextmanager
def azurite() -> Iterator[Azurite]:
    """Azurite for the duration of a ``with`` block."""
    service = start_azurite()
    try:
        yield service
    finally:
        service.stop()


@dataclasses.dataclass
class Simulator:
    """A running simulator (``python -m sim.graph`` or ``python -m sim.acumatica``)."""

    base_url: str
    process: ManagedProcess

    def stop(self) -> None:
        self.process.stop()


def start_simulator(module: str, args: Sequence[str] = (), port: int | None = None,
                    timeout: float = 30.0) -> Simulator:
    """Start a simulator module on a free port and wait for its ``ready`` line."""
    port = port or free_port()
    cmd = [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port), *args]
    proc = start_process(module, cmd, ready_text="ready", ready_port=port, timeout=timeout)
    return Simulator(f"http://127.0.0.1:{port}", proc)
