"""Telemetry: Azure Monitor (OpenTelemetry) when a connection string is set, and custom metrics.

Metrics: ``exsync.items_synced``, ``exsync.conflicts``, ``exsync.failures``, ``exsync.throttled``
(counters, attributes ``record_type`` / ``reason``). Without a connection string the
OpenTelemetry API's no-op meter is used, so recording costs nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.domain.status import RunState, RunSummary
from shared.settings import Settings

logger = logging.getLogger(__name__)

_configured = False
_instruments: dict[str, Any] = {}


def configure(settings: Settings) -> bool:
    """Start exporting to Application Insights once per process; False when not configured."""
    global _configured
    if _configured or settings.appinsights_connection is None:
        return _configured
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=settings.appinsights_connection.get_secret_value(),
                            logger_name="shared")
    _configured = True
    _instruments.clear()
    logger.info("telemetry exported to Azure Monitor")
    return True


_meter: Any = None


def use_meter(meter: Any) -> None:
    """Record into ``meter`` (tests, or a host with its own MeterProvider); None: the global one."""
    global _meter
    _meter = meter
    _instruments.clear()


def _counter(name: str, description: str) -> Any:
    if name not in _instruments:
        meter = _meter
        if meter is None:
            from opentelemetry import metrics

            meter = metrics.get_meter("exsync")
        _instruments[name] = meter.create_counter(name, unit="1", description=description)
    return _instruments[name]


def record_run(summary: RunSummary) -> None:
    """Count what a run did, per record type and side."""
    items = _counter("exsync.items_synced", "records written by sync runs")
    conflicts = _counter("exsync.conflicts", "conflicts resolved by sync runs")
    failures = _counter("exsync.failures", "failed writes and failed runs")
    for key, counts in summary.counts.items():
        attrs = {"counts": key}
        if counts.writes:
            items.add(counts.writes, attrs)
        if counts.conflicts:
            conflicts.add(counts.conflicts, attrs)
        if counts.failed:
            failures.add(counts.failed, attrs)
    if summary.state is RunState.FAILED:
        failures.add(1, {"counts": "run"})


def record_throttled(reason: str) -> None:
    _counter("exsync.throttled", "throttled remote calls").add(1, {"reason": reason})
