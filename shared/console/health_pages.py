"""Health at a glance: each mailbox's last run, warning and counts; Graph subscriptions and their
expiry; runs per hour and failures over the last day; and, loaded after the page (they call Graph
and Key Vault), the secret's days left and the configuration review's findings with their fixes."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from shared.admin import run_history
from shared.admin.subscriptions import KIND as SUBSCRIPTIONS
from shared.console import backend
from shared.console.config_pages import mailboxes_by_server
from shared.console.context import Ctx
from shared.console.sync_pages import totals
from shared.console.web import WebResponse
from shared.errors import ExsyncError

CHART_HEIGHT = 60


@dataclasses.dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    x: int
    height: int


def bars(values: list[tuple[str, int]], *, width: int = 10, gap: int = 2) -> list[Bar]:
    """SVG bar geometry scaled to the largest value (server-rendered, no script)."""
    top = max((v for _, v in values), default=0) or 1
    return [Bar(label, value, i * (width + gap), round(value * CHART_HEIGHT / top))
            for i, (label, value) in enumerate(values)]


async def _subscriptions(ctx: Ctx, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for _, stored in await ctx.rt.state.list_docs(SUBSCRIPTIONS):
        doc = stored.value
        expires = doc.get("expires_at")
        hours = round((datetime.fromisoformat(expires) - now).total_seconds() / 3600, 1) if expires else None
        rows.append({"mailbox": doc.get("mailbox"), "record_type": doc.get("record_type"),
                     "expires_at": expires, "hours_left": hours})
    return sorted(rows, key=lambda r: (str(r["mailbox"]), str(r["record_type"])))


async def health(ctx: Ctx) -> WebResponse:
    now = ctx.rt.clock.now()
    _, rows = await mailboxes_by_server(ctx)
    hours = await run_history.read_last_day(ctx.rt.state, now)
    runs = bars([(f"{h.start:%H}:00", h.runs) for h in hours])
    failures = bars([(f"{h.start:%H}:00", h.failed) for h in hours])
    return ctx.page("health.html", rows=rows, totals=totals, subscriptions=await _subscriptions(ctx, now),
                    runs=runs, failures=failures, chart_height=CHART_HEIGHT,
                    runs_total=sum(h.runs for h in hours), failed_total=sum(h.failed for h in hours))


async def credentials(ctx: Ctx) -> WebResponse:
    """The on-demand expiry check (``GET /api/credentials/expiry?notify=false``): no alert is sent."""
    try:
        report = await ctx.rt.credential_services().check_all(notify=False)
    except ExsyncError as exc:
        report = {"servers": [], "error": str(exc)}
    return ctx.page("partials/credentials.html", report=report)


async def doctor(ctx: Ctx) -> WebResponse:
    """Each active server's configuration review (the Test server route), findings with their fixes."""
    reviews = []
    for server in await backend.data(ctx.rt, "servers"):
        if server.get("is_active", True):
            result = await backend.call(ctx.rt, "POST", "servers/{name}/test", {"name": server["name"]})
            reviews.append({"server": server["name"], "ok": result.ok, "result": result.data})
    return ctx.page("partials/doctor.html", reviews=reviews)
