"""The benchmark's CPU accounting (``bench.cpu``) and its sentence in the report."""

from __future__ import annotations

import os

import pytest

from bench import report
from bench.busy import BusyClock
from bench.cpu import Sample, figures, machine_busy_seconds, process_seconds
from bench.stack import Profile

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc (Linux)")


def test_own_process_cpu_is_read_and_grows() -> None:
    before = process_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    after = process_seconds(os.getpid())
    assert before is not None and after is not None
    assert after >= before
    assert (machine_busy_seconds() or 0) > 0


def test_a_process_that_is_gone_reads_none() -> None:
    assert process_seconds(2**22 + 12345) is None


@pytest.mark.parametrize(("worker", "sim", "wall", "bound"), [
    (4.0, 1.0, 5.0, 0.5),     # 5 CPU seconds of 10 the two cores could give
    (8.0, 2.0, 5.0, 1.0),     # every core busy with our processes: bound by the machine
    (1.0, None, 10.0, 0.05),  # a process unreadable at the end counts as nothing
])
def test_figures_sum_processes_over_cores_times_wall(worker: float, sim: float | None, wall: float,
                                                     bound: float) -> None:
    start = Sample(100.0, {"worker": 10.0, "graph_sim": 3.0}, 50.0)
    end = Sample(100.0 + wall, {"worker": 10.0 + worker, "graph_sim": None if sim is None else 3.0 + sim}, 60.0)
    out = figures(start, end, cores=2, items=1000)
    assert out["cpu_bound"] == bound
    assert out["cpu_s"]["worker"] == worker
    assert out["machine_busy_s"] == 10.0
    assert out["worker_cpu_ms_per_item"] == round(worker, 2)


def test_report_names_every_process_and_the_ratio() -> None:
    cpu = figures(Sample(0.0, {"worker": 0.0, "graph_sim": 0.0}, 0.0),
                  Sample(10.0, {"worker": 6.0, "graph_sim": 1.5}, 16.0), cores=2, items=2000)
    (line,) = report.cpu_lines({"export": {"export": {"cpu": cpu}}})
    assert "worker 6 s" in line and "Graph simulator 1.5 s" in line
    assert "CPU-bound ratio 0.38" in line and "3 ms per item" in line
    cpu.update(busy_s={"graph": 5.0, "table": 2.0, "any": 6.5}, no_request_in_flight_s=3.5)
    _, busy = report.cpu_lines({"export": {"export": {"cpu": cpu, "latency_floor_s": 12.0}}})
    assert "Graph 5 s" in busy and "none 3.5 s" in busy and "no less than 12 s" in busy
    assert report.cpu_lines({"idle": {}}) == []


@pytest.mark.parametrize(("items", "latency_ms", "concurrency", "floor"), [
    (2000, 20, 4, 12.0),   # 100 batches, each its own 20 ms and 5 waves of 4 parts
    (200, 20, 4, 1.2),
    (10, 20, 4, 0.08),     # one batch of 10: 3 waves
    (2000, 0, 4, 0.0),
])
def test_latency_floor(items: int, latency_ms: int, concurrency: int, floor: float) -> None:
    profile = Profile(graph_latency_ms=latency_ms, graph_concurrency=concurrency)
    assert profile.graph_latency_floor(items) == pytest.approx(floor)


def test_busy_clock_counts_overlapping_requests_once() -> None:
    ticks = iter([0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 9.0, 10.0])
    clock = BusyClock(now=lambda: next(ticks))
    before = clock.snapshot()                                   # at 0
    with clock.request("graph"), clock.request("graph"), clock.request("table"):  # graph 1..9 and 2..6, table 3..5
        pass
    assert clock.requests == {"graph": 2, "table": 1}
    out = clock.since(before, wall=10.0)                        # 10.0
    assert out["busy_s"] == {"graph": 8.0, "table": 2.0, "any": 8.0}
    assert out["no_request_in_flight_s"] == 2.0
