"""Custom metrics (OpenTelemetry SDK in-memory reader) and where exsync's log records go."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import requires
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared import metrics
from shared.admin import telemetry
from shared.domain.status import Counts, RunState, RunSummary
from shared.graph.retry import GraphRetryHandler


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    metrics.use_meter(MeterProvider(metric_readers=[reader]).get_meter("exsync"))
    try:
        yield reader
    finally:
        metrics.use_meter(None)


def _points(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[tuple[str, str], ...]], int]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for p in metric.data.data_points:
                    out[(metric.name, tuple(sorted(p.attributes.items())))] = int(p.value)
    return out


def test_run_counts_become_metrics_per_record_type_and_side(reader: InMemoryMetricReader) -> None:
    now = datetime.now(UTC)
    telemetry.record_run(RunSummary("r", RunState.WARNING, now, now, {
        "contact.mailbox": Counts(created=3, updated=2, conflicts=1), "task.erp": Counts(deleted=1, failed=2)}))
    telemetry.record_run(RunSummary("r2", RunState.FAILED, now, now))
    telemetry.record_deferred()
    assert _points(reader) == {
        ("exsync.items_synced", (("record_type", "contact"), ("side", "mailbox"))): 5,
        ("exsync.items_synced", (("record_type", "task"), ("side", "erp"))): 1,
        ("exsync.conflicts", (("record_type", "contact"), ("side", "mailbox"))): 1,
        ("exsync.failures", (("record_type", "task"), ("side", "erp"))): 2,
        ("exsync.runs", (("outcome", "warning"),)): 1,
        ("exsync.runs", (("outcome", "failed"),)): 1,
        ("exsync.runs", (("outcome", "deferred"),)): 1,
    }


def test_every_graph_429_counts_as_throttled(reader: InMemoryMetricReader) -> None:
    handler = GraphRetryHandler()
    request = httpx.Request("GET", "https://graph.microsoft.com/v1.0/users/a/contacts")
    for status in (429, 200, 429, 503):
        handler.should_retry(request, handler.options, httpx.Response(status, request=request))
    assert _points(reader) == {("exsync.throttled", (("service", "graph"),)): 2}


def test_attributes_are_the_declared_ones() -> None:
    with pytest.raises(ValueError, match="record_type"):
        metrics.add(metrics.ITEMS_SYNCED, 1, {"counts": "contact.erp"})


def test_export_is_off_without_connection_string() -> None:
    assert telemetry.configure_from_environment({}) is False
    assert telemetry.configure_from_environment({"APPLICATIONINSIGHTS_CONNECTION_STRING": " "}) is False


@pytest.mark.parametrize(("auth", "client_id"), [
    ("ClientId=abc;Authorization=AAD", "abc"), ("Authorization=AAD;ClientId=abc", "abc"),
    ("ClientId=abc", None), ("", None), (None, None), ("Authorization=AAD", None),
])
def test_identity_of_the_authentication_string(auth: str | None, client_id: str | None) -> None:
    assert telemetry.identity_client_id(auth) == client_id


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_app_records_reach_the_exporter_once_and_not_the_worker_stream() -> None:
    exporter, worker_stream = _Capture(), _Capture()
    root = logging.getLogger()
    saved = {n: (logging.getLogger(n).propagate, list(logging.getLogger(n).handlers)) for n in telemetry.APP_LOGGERS}
    root.addHandler(worker_stream)
    try:
        telemetry.route_records([exporter])
        telemetry.route_records([exporter])  # idempotent
        logging.getLogger("shared.admin.worker").warning("run r1: failed", extra={"event": "exsync.sync.run"})
        logging.getLogger("functions.worker").warning("unreadable message dropped")
        logging.getLogger("azure.core").warning("an SDK record")
    finally:
        root.removeHandler(worker_stream)
        for name, (propagate, handlers) in saved.items():
            logging.getLogger(name).propagate = propagate
            logging.getLogger(name).handlers[:] = handlers
    assert [r.name for r in exporter.records] == ["shared.admin.worker", "functions.worker"]
    assert exporter.records[0].event == "exsync.sync.run"  # type: ignore[attr-defined]
    assert [r.name for r in worker_stream.records] == ["azure.core"]


def test_the_distro_floor_has_the_httpx_instrumentation_the_throttling_alert_reads() -> None:
    lines = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text().splitlines()
    requirement = next(line for line in lines if line.startswith("azure-monitor-opentelemetry"))
    assert ">=1.8" in requirement
    distro = requires("azure-monitor-opentelemetry") or []
    assert any(r.startswith("opentelemetry-instrumentation-httpx") for r in distro)
