"""Synchronization process (SM204030): filter, select, Process, Process all, schedule, and a
mailbox's page (status per record type, live progress, reset dates, log, clear log, reset warning)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from shared.console import backend
from shared.console.config_pages import mailboxes_by_server
from shared.console.context import Ctx
from shared.console.records import CONFLICT
from shared.console.web import WebResponse
from shared.domain.records import RecordType
from shared.domain.status import LogLevel

ACTIVE = ("queued", "running")
DIRECTIONS = ("both", "export", "import")
LEVELS = tuple(level.name.lower() for level in LogLevel)
TYPES = tuple(t.value for t in RecordType)


def busy(status: dict[str, Any] | None) -> bool:
    """Poll while the mailbox waits or runs (the worker publishes progress meanwhile)."""
    if not status:
        return False
    run = status.get("last_run") or {}
    return run.get("state") in ACTIVE or bool(status.get("pending")) or bool(status.get("progress"))


def totals(status: dict[str, Any] | None) -> dict[str, int]:
    """The last run's counts summed over record types and sides."""
    out = {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
    for counts in ((status or {}).get("last_run") or {}).get("counts", {}).values():
        for key in out:
            out[key] += int(counts.get(key, 0))
    return out


async def _rows(ctx: Ctx) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    servers, rows = await mailboxes_by_server(ctx)
    chosen = {"server": ctx.req.query.get("server", ""), "policy": ctx.req.query.get("policy", "")}
    rows = [r for r in rows if (not chosen["server"] or r["server"] == chosen["server"])
            and (not chosen["policy"] or r["effective_policy"] == chosen["policy"])]
    for row in rows:   # a mailbox at work: its live status (progress, why it waits)
        if ((row.get("status") or {}).get("last_run") or {}).get("state") in ACTIVE:
            row["status"] = await _status(ctx, row["email"])
    return servers, rows, chosen


async def sync_page(ctx: Ctx, *, status: int = 200, problem: str | None = None,
                    schedule_errors: dict[str, str] | None = None) -> WebResponse:
    servers, rows, chosen = await _rows(ctx)
    policies = sorted({p["name"] for p in await backend.data(ctx.rt, "policies")}
                      | {r["effective_policy"] for r in rows})
    return ctx.page("sync.html", status, servers=servers, policies=policies, rows=rows, chosen=chosen,
                    busy=any(busy(r.get("status")) for r in rows), totals=totals, problem=problem,
                    filter_query=urlencode({k: v for k, v in chosen.items() if v}),
                    schedule_errors=schedule_errors or {})


async def sync_rows(ctx: Ctx) -> WebResponse:
    _, rows, chosen = await _rows(ctx)
    return ctx.page("partials/sync_rows.html", rows=rows, busy=any(busy(r.get("status")) for r in rows),
                    totals=totals, filter_query=urlencode({k: v for k, v in chosen.items() if v}))


def _back(ctx: Ctx) -> str:
    chosen = {k: ctx.field(k) for k in ("server", "policy") if ctx.field(k)}
    return "sync" + (f"?{urlencode(chosen)}" if chosen else "")


async def process(ctx: Ctx) -> WebResponse:
    selected = ctx.form().get("mailboxes", [])
    result = await backend.call(ctx.rt, "POST", "sync", body={"mailboxes": selected})
    if result.ok:
        return ctx.redirect(_back(ctx), "queued")
    message = "Select at least one mailbox, or use Process all." if not selected else result.message
    return await sync_page(ctx, status=400, problem=message)


async def process_all(ctx: Ctx) -> WebResponse:
    body: dict[str, Any] = {"all": True}
    for key in ("server", "policy"):
        if ctx.field(key):
            body[key] = ctx.field(key)
    result = await backend.call(ctx.rt, "POST", "sync", body=body)
    if result.ok:
        return ctx.redirect(_back(ctx), "queued")
    return await sync_page(ctx, status=400, problem=result.message)


async def save_schedule(ctx: Ctx, name: str) -> WebResponse:
    """Change one server's schedule: the stored server with only ``schedule`` replaced (If-Match)."""
    current = await backend.call(ctx.rt, "GET", "servers/{name}", {"name": name})
    if not current.ok:
        return await sync_page(ctx, status=404, problem=current.message)
    given = ctx.field("etag") or current.etag
    result = await backend.call(ctx.rt, "PUT", "servers/{name}", {"name": name},
                                body={**current.data, "schedule": ctx.field("schedule")}, etag=given)
    if result.ok:
        return ctx.redirect(_back(ctx), "schedule_saved")
    if result.conflict:
        return await sync_page(ctx, status=409, problem=CONFLICT)
    return await sync_page(ctx, status=400, schedule_errors={name: result.field_errors.get("schedule")
                                                                or result.message})


# ---------------------------------------------------------------- one mailbox


async def _status(ctx: Ctx, email: str) -> dict[str, Any]:
    data: dict[str, Any] = await backend.data(ctx.rt, "mailboxes/{email}/status", {"email": email})
    return data


async def _log(ctx: Ctx, email: str) -> tuple[dict[str, Any], str]:
    level = ctx.req.query.get("level", "")
    query = {"level": level} if level else {}
    return await backend.data(ctx.rt, "mailboxes/{email}/log", {"email": email}, query), level


async def mailbox_page(ctx: Ctx, email: str, *, status_code: int = 200,
                       errors: dict[str, str] | None = None) -> WebResponse:
    found = await backend.call(ctx.rt, "GET", "mailboxes/{email}/status", {"email": email})
    if not found.ok:
        return ctx.page("missing.html", 404, what=f"mailbox {email}", back="sync")
    log, level = await _log(ctx, email)
    return ctx.page("mailbox.html", status_code, email=email, status=found.data, busy=busy(found.data),
                    types=TYPES, directions=DIRECTIONS, levels=LEVELS, log=log, level=level,
                    errors=errors or {}, totals=totals, quoted=quote(email))


async def mailbox_status(ctx: Ctx, email: str) -> WebResponse:
    status = await _status(ctx, email)
    return ctx.page("partials/status.html", email=email, status=status, busy=busy(status), types=TYPES,
                    totals=totals, quoted=quote(email))


async def mailbox_log(ctx: Ctx, email: str) -> WebResponse:
    log, level = await _log(ctx, email)
    return ctx.page("partials/log.html", email=email, log=log, level=level, levels=LEVELS, quoted=quote(email))


async def reset_dates(ctx: Ctx, email: str) -> WebResponse:
    body: dict[str, Any] = {"direction": ctx.field("direction") or "both"}
    if ctx.field("type"):
        body["type"] = ctx.field("type")
    if ctx.field("since"):
        body["since"] = ctx.field("since")
    result = await backend.call(ctx.rt, "POST", "mailboxes/{email}/status/reset", {"email": email}, body=body)
    if result.ok:
        return ctx.redirect(f"mailboxes/{quote(email)}", "dates_reset")
    return await mailbox_page(ctx, email, status_code=400, errors=result.field_errors or {"type": result.message})


async def clear_log(ctx: Ctx, email: str) -> WebResponse:
    await backend.call(ctx.rt, "DELETE", "mailboxes/{email}/log", {"email": email})
    return ctx.redirect(f"mailboxes/{quote(email)}", "log_cleared")


async def reset_warning(ctx: Ctx, email: str) -> WebResponse:
    await backend.call(ctx.rt, "POST", "mailboxes/{email}/reset-warning", {"email": email})
    return ctx.redirect(f"mailboxes/{quote(email)}", "warning_reset")
