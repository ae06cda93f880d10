"""``python -m bench [--quick] [--rows idle,export,import,push,tenant,fanout]``: the performance table.

Starts Azurite and both simulators (Graph's throttle model time-scaled, the ERP licence limits
on, a latency per request on all three services), runs each row on its own tenant, writes
``bench/results/latest.json`` and regenerates the table in ``docs/benchmarks.md``. ``--quick``
runs the same rows on a small tenant (about a minute; the ratios, not the sizes, are comparable)
and writes ``bench/results/latest-quick.json`` only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import push, report, scenarios
from bench.stack import Profile, Stack
from bench.targets import verdicts
from shared.graph.gateway import warm_up

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ROWS = ("idle", "export", "import", "push", "tenant", "fanout")



@dataclasses.dataclass(frozen=True)
class Sizes:
    export: int                 # ERP contacts exported (1 % of them then changed on each side)
    imported: int               # mailbox contacts imported
    tenant: tuple[int, ...]     # idle tenants of N mailboxes
    fanout: tuple[int, int]     # mailboxes, ERP contacts changed
    mails: int                  # mails pushed one after another


FULL = Sizes(export=2000, imported=5000, tenant=(1, 5, 20), fanout=(200, 4000), mails=40)
QUICK = Sizes(export=200, imported=100, tenant=(1, 3), fanout=(3, 60), mails=12)


async def run_rows(stack: Stack, rows: tuple[str, ...], quick: bool, *, profile: bool = False) -> dict[str, Any]:
    env = scenarios.Env(stack.graph.base_url, stack.erp.base_url, stack.azurite.connection_string, stack.profile,
                        stack.pids())
    sizes = QUICK if quick else FULL
    await warm_up()
    results: dict[str, Any] = {}
    for row in rows:
        started = time.monotonic()
        print(f"bench: {row} …", file=sys.stderr, flush=True)
        with profiled(row if profile else None):
            results[row] = await run_row(env, row, sizes)
        results[row]["row_seconds"] = round(time.monotonic() - started, 1)
    return results


@contextlib.contextmanager
def profiled(row: str | None) -> Iterator[None]:
    """Profile the block with pyinstrument (a development dependency) into profile-<row>.txt."""
    if row is None:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"profile-{row}.txt").write_text(profiler.output_text(unicode=True, show_all=False))


async def run_row(env: scenarios.Env, row: str, sizes: Sizes) -> dict[str, Any]:
    if row == "idle":
        return await scenarios.idle_cycle(env)
    if row == "export":
        async with env.time_scaled(env.profile.export_time_scale) as scaled:
            return await scenarios.export_then_one_percent(scaled, sizes.export)
    if row == "import":
        return await scenarios.initial_import(env, sizes.imported)
    if row == "push":
        return await push.push_latency(env, sizes.mails)
    if row == "tenant":
        return report.tenant_slope(await scenarios.idle_tenant(env, sizes.tenant))
    return await scenarios.fan_out(env, *sizes.fanout)


def environment(profile: Profile, quick: bool) -> dict[str, Any]:
    versions = {name: metadata.version(name) for name in ("msgraph-sdk", "azure-data-tables", "httpx", "aiohttp")}
    with open("/proc/cpuinfo") as cpu:
        model = next((line.split(":", 1)[1].strip() for line in cpu if line.startswith("model name")), "?")
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "quick": quick,
            "machine": f"{os.cpu_count()} cores, {model}", "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()], "versions": versions,
            "azurite": report.azurite_version(ROOT), "profile": profile.__dict__}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute subset on a small tenant")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--no-doc", action="store_true", help="write the JSON only (--quick never writes the doc)")
    parser.add_argument("--profile", action="store_true",
                        help="profile the rows (pyinstrument) into bench/results/profile-<row>.txt; JSON only")
    args = parser.parse_args(argv)
    rows = tuple(r.strip() for r in args.rows.split(",") if r.strip())
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"--rows: unknown {unknown[0]!r}; expected some of {', '.join(ROWS)}")
    profile = Profile()
    env = environment(profile, args.quick)
    stack = Stack.start(profile, ("idle@contoso.test",))
    try:
        results = asyncio.run(run_rows(stack, rows, args.quick, profile=args.profile))
    finally:
        stack.stop()
    env["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    figures = verdicts(results)
    out: dict[str, Any] = {"environment": env, "results": results, "figures": figures}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "latest-profile.json" if args.profile else "latest-quick.json" if args.quick else "latest.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")
    if not args.no_doc and not args.quick and not args.profile:
        report.write_doc(ROOT / "docs" / "benchmarks.md", out)
    for line in report.cpu_lines(results):
        print(line)
    for figure in figures:
        state = {True: "met", False: "MISSED", None: "not measured"}[figure["met"]]
        print(f"{figure['figure']}: {figure['value']} (target {figure['target']}) {state}")


if __name__ == "__main__":
    main()
