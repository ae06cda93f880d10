"""OpenTelemetry instruments of transactional mail (no-op without a configured MeterProvider).

``exsync.mail_sent`` / ``exsync.mail_failed`` / ``exsync.mail_waiting`` count mails per system
mailbox and branch; the gauges ``exsync.mail_quota_day`` (share of the 10,000 recipients a day)
and ``exsync.mail_quota_warning`` (1 at 80 % or more) are set after each run.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics

_instruments: dict[str, Any] = {}


def _instrument(kind: str, name: str, description: str) -> Any:
    if name not in _instruments:
        meter = metrics.get_meter("exsync")
        make = meter.create_counter if kind == "counter" else meter.create_gauge
        _instruments[name] = make(name, unit="1", description=description)
    return _instruments[name]


def count(outcome: str, mailbox: str, branch: str) -> None:
    """One mail sent, failed or left waiting (``outcome``: sent | failed | waiting)."""
    _instrument("counter", f"exsync.mail_{outcome}", f"transactional mails {outcome}").add(
        1, {"mailbox": mailbox, "branch": branch})


def quota(mailbox: str, day_share: float, warning: bool) -> None:
    attrs = {"mailbox": mailbox}
    _instrument("gauge", "exsync.mail_quota_day", "share of the daily recipient limit used").set(day_share, attrs)
    _instrument("gauge", "exsync.mail_quota_warning", "1 when 80 % of a limit is used").set(int(warning), attrs)
