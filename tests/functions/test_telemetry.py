"""Custom metrics recorded by the worker (OpenTelemetry SDK in-memory reader)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared.admin import telemetry
from shared.domain.status import Counts, RunState, RunSummary
from shared.settings import Settings


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    telemetry.use_meter(MeterProvider(metric_readers=[reader]).get_meter("exsync"))
    try:
        yield reader
    finally:
        telemetry.use_meter(None)


def _sums(reader: InMemoryMetricReader) -> dict[str, int]:
    out: dict[str, int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out[metric.name] = sum(int(p.value) for p in metric.data.data_points)
    return out


def test_run_counts_become_metrics(reader: InMemoryMetricReader) -> None:
    now = datetime.now(UTC)
    telemetry.record_run(RunSummary("r", RunState.WARNING, now, now, {
        "contact.mailbox": Counts(created=3, updated=2, conflicts=1), "task.erp": Counts(deleted=1, failed=2)}))
    telemetry.record_run(RunSummary("r2", RunState.FAILED, now, now))
    telemetry.record_throttled("graph")
    assert _sums(reader) == {"exsync.items_synced": 6, "exsync.conflicts": 1, "exsync.failures": 3,
                             "exsync.throttled": 1}


def test_export_is_off_without_connection_string() -> None:
    assert telemetry.configure(Settings.from_env({})) is False
