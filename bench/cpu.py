"""CPU seconds the stack's processes spend over a span, read from ``/proc`` (Linux only).

A row's wall time on a small machine can be bound by CPU rather than by the services' budgets:
the worker (this Python process), the two simulators and Azurite's node processes share the
cores. :class:`CpuMeter` reads each process's ``utime + stime`` (its reaped children's included,
``cutime + cstime``) from ``/proc/<pid>/stat`` at the start and the end of a span, and the whole
machine's busy time from ``/proc/stat`` (what every process on it used, ours and others').
``cpu_bound`` is our processes' CPU seconds over what the cores could give in the wall time
(``cores x wall``): near 1, the row waited for CPU, not for a budget or a latency.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)   # /proc/stat cpu: user nice system [idle iowait] irq softirq steal


def process_seconds(pid: int) -> float | None:
    """CPU seconds ``pid`` and its reaped children used so far; None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()   # from field 3 (state) on; the name may hold spaces
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / TICKS


def machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine spent busy since boot (``/proc/stat``); None if unreadable."""
    try:
        with open("/proc/stat") as stat:
            first = stat.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    values = [int(v) for v in first[1:]]
    return sum(values[i] for i in _BUSY_FIELDS if i < len(values)) / TICKS


@dataclasses.dataclass(frozen=True)
class Sample:
    at: float
    processes: dict[str, float | None]
    machine: float | None


@dataclasses.dataclass(frozen=True)
class CpuMeter:
    """The processes to account for, by name (the bench's own process is always ``worker``)."""

    pids: Mapping[str, int]
    cores: int = os.cpu_count() or 1

    def sample(self) -> Sample:
        named = {"worker": os.getpid(), **self.pids}
        return Sample(time.monotonic(), {name: process_seconds(pid) for name, pid in named.items()},
                      machine_busy_seconds())

    def since(self, start: Sample, items: int | None = None) -> dict[str, Any]:
        """The span from ``start`` to now: :func:`figures`."""
        return figures(start, self.sample(), self.cores, items)


def figures(start: Sample, end: Sample, cores: int, items: int | None = None) -> dict[str, Any]:
    """CPU per process over the span, their sum, the machine's busy time and ``cpu_bound``."""
    wall = end.at - start.at
    per = {name: _delta(start.processes.get(name), value) for name, value in end.processes.items()}
    ours = sum(v for v in per.values() if v is not None)
    out: dict[str, Any] = {
        "wall_s": round(wall, 2), "cores": cores,
        "cpu_s": {name: None if v is None else round(v, 2) for name, v in per.items()},
        "cpu_s_total": round(ours, 2),
        "machine_busy_s": None if start.machine is None or end.machine is None
        else round(end.machine - start.machine, 2),
        "cpu_bound": round(ours / (cores * wall), 2) if wall > 0 else None,
    }
    worker = per.get("worker")
    if items and worker is not None:
        out["worker_cpu_ms_per_item"] = round(1000 * worker / items, 2)
    return out


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before
