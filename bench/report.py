"""Turning a benchmark result into the table of ``docs/benchmarks.md`` (between two markers).

The rest of the document (profiles, reasons, older measurements) is prose kept by hand; only
the block between ``<!-- bench:table -->`` and ``<!-- /bench:table -->`` is regenerated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:table -->", "<!-- /bench:table -->"


def tenant_slope(by_size: dict[str, Any]) -> dict[str, Any]:
    """ERP requests a cycle gains per extra idle mailbox (between the smallest and largest tenant)."""
    sizes = sorted(int(n) for n in by_size)
    low, high = sizes[0], sizes[-1]
    slope = (by_size[str(high)]["erp"] - by_size[str(low)]["erp"]) / (high - low) if high > low else None
    return {"by_mailboxes": by_size, "erp_per_added_mailbox": None if slope is None else round(slope, 2)}


def azurite_version(root: Path) -> str:
    try:
        return str(json.loads((root / "node_modules" / "azurite" / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def _value(value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def table(out: dict[str, Any]) -> str:
    env = out["environment"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    profile = env["profile"]
    lines = [
        f"Run {env['date']} on {env['machine']}, Python {env['python']}, {versions}, Azurite {env['azurite']}; "
        f"load average {' / '.join(str(x) for x in env['load_average'])} before, "
        f"{' / '.join(str(x) for x in env.get('load_average_after', []))} after (a shared, loaded 2-core machine: "
        "times are indicative, counts are exact).",
        f"Latency injected per request: Graph {profile['graph_latency_ms']} ms, ERP {profile['erp_latency_ms']} ms, "
        f"Table Storage {profile['table_latency_ms']} ms. Graph budget {profile['graph_rate_limit']:,} requests per "
        f"{600 / profile['graph_time_scale']:g} s per mailbox (Graph's 10,000 / 10 min time-scaled; the export row "
        f"{600 / profile.get('export_time_scale', profile['graph_time_scale']):g} s, see below); ERP licence "
        f"{profile['erp_requests_per_minute']:,} requests/min, {profile['erp_concurrent_requests']} concurrent.",
        *cpu_lines(out["results"]),
        "",
        "| figure | target | measured | |",
        "|---|---|---:|---|",
    ]
    for figure in out["figures"]:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[figure["met"]]
        lines.append(f"| {figure['figure']} | {figure['target']} | {_value(figure['value'])} | {verdict} |")
    return "\n".join(lines)


CPU_NAMES = {"worker": "worker", "graph_sim": "Graph simulator", "erp_sim": "ERP simulator",
             "azurite_table": "Azurite tables", "azurite_queue": "Azurite queues"}


def cpu_lines(results: dict[str, Any]) -> list[str]:
    """The export run's CPU accounting (:mod:`bench.cpu`) as one sentence, when the row ran."""
    export = results.get("export", {}).get("export", {})
    cpu = export.get("cpu")
    if not cpu or "cpu_s" not in cpu:
        return []
    parts = ", ".join(f"{CPU_NAMES.get(name, name)} {_value(v)} s" for name, v in cpu["cpu_s"].items()
                      if v is not None)
    busy = cpu.get("machine_busy_s")
    machine = f"; the whole machine {_value(busy)} s" if busy is not None else ""
    return [f"CPU during the export's run ({_value(cpu['wall_s'])} s wall): {parts}, together "
            f"{_value(cpu['cpu_s_total'])} s of the {cpu['cores']} cores' {_value(cpu['cores'] * cpu['wall_s'])} s "
            f"(CPU-bound ratio {_value(cpu['cpu_bound'])}{machine}; worker "
            f"{_value(cpu.get('worker_cpu_ms_per_item'))} ms per item).", *_busy_line(export, cpu)]


def _busy_line(export: dict[str, Any], cpu: dict[str, Any]) -> list[str]:
    busy = cpu.get("busy_s")
    if not busy:
        return []
    floor = export.get("latency_floor_s")
    limit = f"; Graph's concurrency at this latency allows no less than {_value(floor)} s" if floor else ""
    return [f"Requests in flight during it: Graph {_value(busy.get('graph', 0))} s, Table Storage "
            f"{_value(busy.get('table', 0))} s, either {_value(busy.get('any', 0))} s, none "
            f"{_value(cpu.get('no_request_in_flight_s'))} s{limit}."]


def write_doc(path: Path, out: dict[str, Any]) -> None:
    text = path.read_text()
    block = f"{BEGIN}\n{table(out)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{block}\n{body}"
    path.write_text(text)
