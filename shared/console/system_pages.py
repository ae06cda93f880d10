"""System mailboxes (PRODUCT §7–§8): each one's settings, and Test, Dry run and Run now with their
answers, all through the admin API's ``/api/system-mailboxes`` routes. Settings are changed with
the API or the CLI; the page shows them."""

from __future__ import annotations

from typing import Any

from shared.console import backend
from shared.console.context import Ctx
from shared.console.web import WebResponse

ACTIONS = {"test": ("POST", "system-mailboxes/{address}/test", "Test"),
           "dry-run": ("POST", "system-mailboxes/{address}/dry-run", "Dry run"),
           "run": ("POST", "system-mailboxes/{address}/run", "Run now")}


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested JSON as (dotted name, text) rows for a key/value table."""
    if isinstance(data, dict):
        return [row for key, value in data.items() for row in flatten(value, f"{prefix}{key}.")]
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        return [row for i, value in enumerate(data) for row in flatten(value, f"{prefix}{i}.")]
    text = ", ".join(map(str, data)) if isinstance(data, list) else "" if data is None else str(data)
    return [(prefix.rstrip("."), text)]


async def system_mailboxes(ctx: Ctx) -> WebResponse:
    items = await backend.data(ctx.rt, "system-mailboxes")
    return ctx.page("system_mailboxes.html", items=[(m.get("address", ""), flatten(m)) for m in items],
                    actions=ACTIONS)


async def system_action(ctx: Ctx, address: str, action: str) -> WebResponse:
    if action not in ACTIONS:
        return ctx.page("missing.html", 404, what=f"action {action}", back="system-mailboxes")
    method, template, label = ACTIONS[action]
    result = await backend.call(ctx.rt, method, template, {"address": address}, body={})
    return ctx.page("partials/system_result.html", 200 if result.ok else result.status, label=label,
                    ok=result.ok, rows=flatten(result.data), message=result.message)
