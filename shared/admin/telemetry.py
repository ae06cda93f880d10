"""Telemetry: the Azure Monitor distro set up once per worker process, and what a run records.

In Azure, ``function_app`` calls :func:`configure_from_environment` when the worker indexes the app:
with ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set, the distro exports traces, metrics and exsync's
log records (loggers ``shared`` and ``functions``, their ``extra=`` fields as ``customDimensions``),
authenticating with the managed identity named in ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``.
``PYTHON_ENABLE_OPENTELEMETRY=true`` (and ``telemetryMode`` in host.json) make the Python worker
run each invocation in the host's trace context, so records and dependencies correlate with the
host's request. exsync's records then go to the exporter only, not also through the worker's log
stream to the host: each record reaches Application Insights once. Without a connection string
nothing is configured and nothing changes. Metric names: :mod:`shared.metrics`.

:func:`quiet_transport_loggers` runs first, always: the HTTP libraries log each request's URL
(httpx at INFO, httpcore at DEBUG, azure-core's logging policy at INFO), and exsync's URLs carry
e-mail addresses (ERP ``$filter``, Table Storage keys). The Python worker sends every record to
the host under one category per function, so host.json cannot single these loggers out; the app
raises them to WARNING itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from shared import metrics
from shared.domain.status import RunState, RunSummary

logger = logging.getLogger(__name__)

APP_LOGGERS = ("shared", "functions")
_PROBE_LOGGER = "exsync.telemetry"  # the distro attaches its log handler here; we move it to APP_LOGGERS
_configured = False
# Loggers that write request URLs (addresses in ERP filters, mailbox keys) below WARNING.
TRANSPORT_LOGGERS = ("httpx", "httpcore", "azure.core.pipeline.policies.http_logging_policy")


def identity_client_id(auth: str | None) -> str | None:
    """``ClientId=<id>;Authorization=AAD`` (the host's format) -> the identity's client id."""
    parts = dict(p.split("=", 1) for p in (auth or "").split(";") if "=" in p)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    return parts.get("ClientId") or None


def route_records(handlers: list[logging.Handler]) -> None:
    """exsync's loggers write to ``handlers`` only (not also up to the root logger the worker streams)."""
    for name in APP_LOGGERS:
        app_logger = logging.getLogger(name)
        for handler in handlers:
            if handler not in app_logger.handlers:
                app_logger.addHandler(handler)
        app_logger.propagate = False


def quiet_transport_loggers() -> None:
    """The HTTP libraries' request logs (URLs with e-mail addresses) only from WARNING up."""
    for name in TRANSPORT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Start exporting to Application Insights once per process; False when not configured."""
    global _configured
    quiet_transport_loggers()
    env = os.environ if environ is None else environ
    connection = (env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or "").strip()
    if _configured or not connection:
        return _configured
    from azure.monitor.opentelemetry import configure_azure_monitor

    options: dict[str, Any] = {"connection_string": connection, "logger_name": _PROBE_LOGGER}
    client_id = identity_client_id(env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING"))
    if client_id:
        from azure.identity import ManagedIdentityCredential

        options["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**options)
    route_records(list(logging.getLogger(_PROBE_LOGGER).handlers))
    _configured = True
    metrics.use_meter(None)
    logger.info("telemetry exported to Azure Monitor")
    return True


def record_run(summary: RunSummary) -> None:
    """Count what a run did, per record type and side, and the run's outcome."""
    for key, counts in summary.counts.items():
        record_type, _, side = key.partition(".")
        attributes = {"record_type": record_type, "side": side or "-"}
        for name, value in ((metrics.ITEMS_SYNCED, counts.writes), (metrics.CONFLICTS, counts.conflicts),
                            (metrics.FAILURES, counts.failed)):
            if value:
                metrics.add(name, value, attributes)
    if summary.state in (RunState.SUCCEEDED, RunState.WARNING, RunState.FAILED):
        metrics.add(metrics.RUNS, 1, {"outcome": summary.state.value})


def record_deferred() -> None:
    """A run gave up for now (the remote service throttled it) and goes back to the queue."""
    metrics.add(metrics.RUNS, 1, {"outcome": "deferred"})
