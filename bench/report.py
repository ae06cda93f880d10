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
    return {"by_mailboxes": by_size, "erp_per_added_mailbox": slope}


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
        f"{600 / profile['graph_time_scale']:g} s per mailbox (Graph's 10,000 / 10 min time-scaled); ERP licence "
        f"{profile['erp_requests_per_minute']:,} requests/min, {profile['erp_concurrent_requests']} concurrent.",
        "",
        "| figure | target | measured | |",
        "|---|---|---:|---|",
    ]
    for figure in out["figures"]:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[figure["met"]]
        lines.append(f"| {figure['figure']} | {figure['target']} | {_value(figure['value'])} | {verdict} |")
    return "\n".join(lines)


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
