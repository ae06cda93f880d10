"""exsync's custom metrics: one table of names, attributes and meanings, and the counters.

Any layer may record (the module depends on the OpenTelemetry API only). Without a configured
MeterProvider the API's no-op meter is used, so recording costs nothing; in Azure the Azure Monitor
distro (``shared.admin.telemetry``) exports them to ``customMetrics`` (attributes become
``customDimensions``). ``infra/`` queries only names and attributes listed here (a test checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ITEMS_SYNCED = "exsync.items_synced"
CONFLICTS = "exsync.conflicts"
FAILURES = "exsync.failures"
RUNS = "exsync.runs"
THROTTLED = "exsync.throttled"

# name -> (description, attribute names). Values of the attributes:
# record_type: contact | email | task | event; side: erp | mailbox (where the write went);
# outcome: succeeded | warning | failed | deferred; service: graph (each 429 Graph answered).
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    ITEMS_SYNCED: ("records written (created, updated, deleted) by sync runs", ("record_type", "side")),
    CONFLICTS: ("conflicts resolved by sync runs", ("record_type", "side")),
    FAILURES: ("records a sync run failed to write", ("record_type", "side")),
    RUNS: ("finished or deferred sync runs", ("outcome",)),
    THROTTLED: ("throttled answers (HTTP 429) from a remote service", ("service",)),
}

_meter: Any = None
_instruments: dict[str, Any] = {}


def use_meter(meter: Any) -> None:
    """Record into ``meter`` (tests, or a host with its own MeterProvider); None: the global one."""
    global _meter
    _meter = meter
    _instruments.clear()


def add(name: str, value: int, attributes: Mapping[str, str]) -> None:
    """Add ``value`` to the counter ``name`` with exactly its declared attributes."""
    description, expected = METRICS[name]
    if set(attributes) != set(expected):
        raise ValueError(f"{name} takes the attributes {expected}, not {tuple(attributes)}")
    if name not in _instruments:
        meter = _meter
        if meter is None:
            from opentelemetry import metrics

            meter = metrics.get_meter("exsync")
        _instruments[name] = meter.create_counter(name, unit="1", description=description)
    _instruments[name].add(value, dict(attributes))


def throttled(service: str) -> None:
    """A remote service answered 429 (``service``: graph)."""
    add(THROTTLED, 1, {"service": service})


# Structured log records (``extra={"event": name, ...}``) the alerts and the workbook read from
# ``traces``: event name -> the ``customDimensions`` fields it carries.
EVENTS: dict[str, tuple[str, ...]] = {
    "exsync.sync.run": ("mailbox", "outcome", "written", "failed", "duration_seconds"),
    "exsync.sync.poison": ("mailbox",),
    "exsync.credential.expiry": ("exsync_event", "server", "credential", "credential_source", "days_left",
                                 "threshold", "expires_on"),
    "exsync.credential.unreadable": ("exsync_event", "server", "credential"),
    "exsync.credential.rotation": ("exsync_event", "server", "outcome", "step"),
}
