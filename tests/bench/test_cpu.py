"""The benchmark's CPU accounting (``bench.cpu``) and its sentence in the report."""

from __future__ import annotations

import os

import pytest

from bench import report
from bench.cpu import Sample, figures, machine_busy_seconds, process_seconds

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
    assert report.cpu_lines({"idle": {}}) == []
