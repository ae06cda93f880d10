"""System mailboxes (PRODUCT §7–§8): the list, the form of each one's incoming-processing and
transactional-mail settings (create, edit, delete with ETags), its sending status, and Test, Dry run,
Run now, Send now and the sending check with their answers, all through the admin API's
``/api/system-mailboxes`` routes."""

from __future__ import annotations

from typing import Any

from shared.console import backend, forms, records
from shared.console.context import Ctx
from shared.console.web import WebResponse
from shared.mailproc.model import SystemMailbox

COLLECTION, KEY = "system-mailboxes", "address"
ACTIONS = {"test": ("POST", "system-mailboxes/{address}/test", "Test"),
           "dry-run": ("POST", "system-mailboxes/{address}/dry-run", "Dry run"),
           "run": ("POST", "system-mailboxes/{address}/run", "Run now"),
           "send": ("POST", "system-mailboxes/{address}/send", "Send now"),
           "sending-check": ("POST", "system-mailboxes/{address}/sending/check", "Check sending")}


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested JSON as (dotted name, text) rows for a key/value table."""
    if isinstance(data, dict):
        return [row for key, value in data.items() for row in flatten(value, f"{prefix}{key}.")]
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        return [row for i, value in enumerate(data) for row in flatten(value, f"{prefix}{i}.")]
    text = ", ".join(map(str, data)) if isinstance(data, list) else "" if data is None else str(data)
    return [(prefix.rstrip("."), text)]


async def system_mailboxes(ctx: Ctx) -> WebResponse:
    return ctx.page("system_mailboxes.html", items=await backend.data(ctx.rt, COLLECTION))


async def _fields(ctx: Ctx) -> list[forms.Field]:
    servers = [s["name"] for s in await backend.data(ctx.rt, "servers")]
    return forms.fields_of(forms.system_mailbox_form(servers))


async def _form_page(ctx: Ctx, *, values: dict[str, Any], address: str | None, etag: str | None,
                     status: int = 200, errors: dict[str, str] | None = None, problems: list[str] | None = None,
                     conflict: bool = False) -> WebResponse:
    servers = [s["name"] for s in await backend.data(ctx.rt, "servers")]
    sending = None
    if address is not None:
        answer = await backend.call(ctx.rt, "GET", "system-mailboxes/{address}/sending", {KEY: address})
        sending = flatten(answer.data.get("status")) if answer.ok and answer.data.get("status") else []
    return ctx.page("system_mailbox_form.html", status, groups=forms.system_mailbox_form(servers), values=values,
                    name=address, etag=etag, errors=errors or {}, problems=problems or [],
                    conflict=records.CONFLICT if conflict else None, actions=ACTIONS, sending=sending,
                    no_servers=not servers)


async def new_system_mailbox(ctx: Ctx) -> WebResponse:
    defaults = SystemMailbox(address="new@example.com", server="new").model_dump(mode="json")
    fields = await _fields(ctx)
    values = forms.form_values(fields, defaults | {KEY: "", "server": ctx.req.query.get("server", "")})
    return await _form_page(ctx, values=values, address=None, etag=None)


async def edit_system_mailbox(ctx: Ctx, address: str) -> WebResponse:
    result = await backend.call(ctx.rt, "GET", "system-mailboxes/{address}", {KEY: address})
    if not result.ok:
        return ctx.page("missing.html", 404, what=f"system mailbox {address}", back=COLLECTION)
    return await _form_page(ctx, values=forms.form_values(await _fields(ctx), result.data), address=address,
                            etag=result.etag)


async def save_system_mailbox(ctx: Ctx, address: str | None = None) -> WebResponse:
    fields = await _fields(ctx)
    result, form = await records.save(ctx, COLLECTION, fields, address, key=KEY)
    if result.ok:
        return records.saved(ctx, COLLECTION, result, address, key=KEY)
    return await _form_page(ctx, address=address, etag=ctx.field("etag") or None,
                            **records.rejection(result, fields, form, key=KEY))


async def delete_system_mailbox(ctx: Ctx, address: str) -> WebResponse:
    result = await backend.call(ctx.rt, "DELETE", "system-mailboxes/{address}", {KEY: address},
                                etag=ctx.field("etag") or None)
    if result.ok:
        return ctx.redirect(COLLECTION, "deleted")
    current = await backend.call(ctx.rt, "GET", "system-mailboxes/{address}", {KEY: address})
    values = forms.form_values(await _fields(ctx), current.data if current.ok else {})
    return await _form_page(ctx, values=values, address=address, etag=current.etag,
                            status=409 if result.conflict else 400, problems=records.delete_problems(result),
                            conflict=result.conflict)


async def system_action(ctx: Ctx, address: str, action: str) -> WebResponse:
    if action not in ACTIONS:
        return ctx.page("missing.html", 404, what=f"action {action}", back=COLLECTION)
    method, template, label = ACTIONS[action]
    result = await backend.call(ctx.rt, method, template, {KEY: address}, body={})
    return ctx.page("partials/system_result.html", 200 if result.ok else result.status, label=label,
                    ok=result.ok, rows=flatten(result.data), message=result.message)
