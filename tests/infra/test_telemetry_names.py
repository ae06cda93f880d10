"""The alerts and the workbook read only metric names, attributes, events and fields the code
emits (``shared/metrics.py``), and every metric the code emits is shown somewhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.metrics import EVENTS, METRICS
from tests.infra.conftest import INFRA, ROOT

TABLES = ("traces", "customMetrics", "dependencies", "requests", "exceptions")


def _queries() -> list[str]:
    bicep = (INFRA / "modules" / "alerts.bicep").read_text(encoding="utf-8")
    out = re.findall(r"^\s*query: '(.*)'$", bicep, flags=re.M)
    workbook = json.loads((INFRA / "modules" / "sync-health.workbook.json").read_text(encoding="utf-8"))
    out += [item["content"]["query"] for item in workbook["items"] if "query" in item.get("content", {})]
    assert len(out) >= 8
    return out


def _parts(query: str) -> list[tuple[str, str]]:
    """(table, text) for each table a query reads, e.g. both sides of a ``union``."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(rf"\b({'|'.join(TABLES)})\b(?=\s*\|)", query)]
    return [(table, query[pos:(starts[i + 1][0] if i + 1 < len(starts) else len(query))])
            for i, (pos, table) in enumerate(starts)]


def _strings(text: str) -> set[str]:
    return set(re.findall(r'"(exsync\.[a-z_.]+)"', text))


def _dimensions(text: str) -> set[str]:
    return set(re.findall(r"customDimensions\.([A-Za-z_]+)", text))


@pytest.mark.parametrize("query", _queries())
def test_queries_read_what_the_code_emits(query: str) -> None:
    for table, text in _parts(query):
        if table == "customMetrics":
            names = _strings(text)
            assert names and names <= set(METRICS), names - set(METRICS)
            allowed = {a for n in names for a in METRICS[n][1]}
            assert _dimensions(text) <= allowed, _dimensions(text) - allowed
        elif table == "traces":
            events = _strings(text)
            assert events <= set(EVENTS), events - set(EVENTS)
            allowed = {"event"} | {f for e in (events or set(EVENTS)) for f in EVENTS[e]}
            assert _dimensions(text) <= allowed, _dimensions(text) - allowed


def test_every_metric_is_read_by_an_alert_or_the_workbook() -> None:
    read = set().union(*(_strings(t) for q in _queries() for table, t in _parts(q) if table == "customMetrics"))
    assert sorted(set(METRICS) - read) == []


def test_the_events_the_code_logs_are_declared() -> None:
    logged: set[str] = set()
    for path in (ROOT / "shared").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        logged |= set(re.findall(r'"event": "(exsync\.[a-z_.]+)"', text))
        logged |= set(re.findall(r'^[A-Z_]*EVENT = "(exsync\.[a-z_.]+)"', text, flags=re.M))
    assert {"exsync.sync.run", "exsync.sync.poison", "exsync.credential.expiry"} <= logged
    assert sorted(logged - set(EVENTS)) == []


def test_the_deploy_doc_names_the_metrics() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert [m for m in METRICS if f"`{m}`" not in doc] == []
    assert Path(INFRA / "modules" / "alerts.bicep").exists()
