"""Policies (SM204010) and Servers (SM204015): lists, forms, mailboxes, Test and Initialize.

Every read and write is an admin API call (:mod:`shared.console.backend`); the forms only
translate between inputs and the API's JSON (:mod:`shared.console.forms`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.console import backend, forms, records
from shared.console.context import Ctx
from shared.console.web import WebResponse
from shared.domain.config import ServerConfig, SyncPolicy


async def mailboxes_by_server(ctx: Ctx) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(servers, every mailbox with its status and effective policy) through the API."""
    servers = await backend.data(ctx.rt, "servers")
    rows: list[dict[str, Any]] = []
    for server in servers:
        for mailbox in await backend.data(ctx.rt, "servers/{name}/mailboxes", {"name": server["name"]}):
            mailbox["effective_policy"] = mailbox.get("policy") or server["default_policy"]
            rows.append(mailbox)
    return servers, rows


# ---------------------------------------------------------------- policies


async def policies(ctx: Ctx) -> WebResponse:
    items = await backend.data(ctx.rt, "policies")
    servers, rows = await mailboxes_by_server(ctx)
    users: dict[str, list[str]] = {}
    for row in rows:
        users.setdefault(row["effective_policy"], []).append(row["email"])
    names = {p["name"] for p in items}
    implicit = sorted(name for name in users if name not in names)
    return ctx.page("policies.html", items=items, users=users, implicit=implicit, servers=servers)


def _policy_page(ctx: Ctx, *, values: dict[str, Any], name: str | None, etag: str | None, status: int = 200,
                 errors: dict[str, str] | None = None, problems: list[str] | None = None,
                 conflict: bool = False) -> WebResponse:
    return ctx.page("policy_form.html", status, groups=forms.POLICY_FORM, values=values, name=name, etag=etag,
                    errors=errors or {}, problems=problems or [], conflict=records.CONFLICT if conflict else None)


async def new_policy(ctx: Ctx) -> WebResponse:
    defaults = SyncPolicy(name="new").model_dump(mode="json") | {"name": ctx.req.query.get("name", "")}
    return _policy_page(ctx, values=forms.form_values(forms.fields_of(forms.POLICY_FORM), defaults), name=None,
                        etag=None)


async def edit_policy(ctx: Ctx, name: str) -> WebResponse:
    result = await backend.call(ctx.rt, "GET", "policies/{name}", {"name": name})
    if not result.ok:
        return ctx.page("missing.html", 404, what=f"policy {name}", back="policies")
    return _policy_page(ctx, values=forms.form_values(forms.fields_of(forms.POLICY_FORM), result.data), name=name,
                        etag=result.etag)


async def save_policy(ctx: Ctx, name: str | None = None) -> WebResponse:
    fields = forms.fields_of(forms.POLICY_FORM)
    result, form = await records.save(ctx, "policies", fields, name)
    if result.ok:
        return records.saved(ctx, "policies", result, name)
    return _policy_page(ctx, name=name, etag=ctx.field("etag") or None, **records.rejection(result, fields, form))


async def delete_policy(ctx: Ctx, name: str) -> WebResponse:
    result = await backend.call(ctx.rt, "DELETE", "policies/{name}", {"name": name}, etag=ctx.field("etag") or None)
    if result.ok:
        return ctx.redirect("policies", "deleted")
    current = await backend.call(ctx.rt, "GET", "policies/{name}", {"name": name})
    values = forms.form_values(forms.fields_of(forms.POLICY_FORM), current.data if current.ok else {})
    problems = records.delete_problems(result)
    return _policy_page(ctx, values=values, name=name, etag=current.etag, status=409 if result.conflict else 400,
                        problems=problems, conflict=result.conflict)


# ---------------------------------------------------------------- servers


async def servers(ctx: Ctx) -> WebResponse:
    items, rows = await mailboxes_by_server(ctx)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["server"]] = counts.get(row["server"], 0) + 1
    return ctx.page("servers.html", items=items, counts=counts)


async def _policy_names(ctx: Ctx) -> list[str]:
    return [p["name"] for p in await backend.data(ctx.rt, "policies")]


async def _server_page(ctx: Ctx, *, values: dict[str, Any], name: str | None, etag: str | None,
                       status: int = 200, errors: dict[str, str] | None = None,
                       problems: list[str] | None = None, conflict: bool = False,
                       mailbox_values: dict[str, Any] | None = None,
                       mailbox_errors: dict[str, str] | None = None) -> WebResponse:
    policy_names = await _policy_names(ctx)
    mailboxes = await backend.data(ctx.rt, "servers/{name}/mailboxes", {"name": name}) if name else []
    mailbox_fields = _mailbox_fields(policy_names)
    return ctx.page("server_form.html", status, groups=forms.server_form(policy_names), values=values, name=name,
                    etag=etag, errors=errors or {}, problems=problems or [],
                    conflict=records.CONFLICT if conflict else None, mailboxes=mailboxes, mailbox_fields=mailbox_fields,
                    mailbox_values=mailbox_values or {"sync": True}, mailbox_errors=mailbox_errors or {})


def _mailbox_fields(policy_names: list[str]) -> tuple[forms.Field, ...]:
    return tuple(forms.Field(f.name, f.label, f.kind, ("", *sorted({"default", *policy_names})), f.blank_is_none,
                             f.hint) if f.name == "policy" else f for f in forms.MAILBOX_FORM)


async def new_server(ctx: Ctx) -> WebResponse:
    defaults = ServerConfig(name="new").model_dump(mode="json") | {"name": ""}
    fields = forms.fields_of(forms.server_form(await _policy_names(ctx)))
    return await _server_page(ctx, values=forms.form_values(fields, defaults), name=None, etag=None)


async def edit_server(ctx: Ctx, name: str) -> WebResponse:
    result = await backend.call(ctx.rt, "GET", "servers/{name}", {"name": name})
    if not result.ok:
        return ctx.page("missing.html", 404, what=f"server {name}", back="servers")
    fields = forms.fields_of(forms.server_form(await _policy_names(ctx)))
    return await _server_page(ctx, values=forms.form_values(fields, result.data), name=name, etag=result.etag)


async def save_server(ctx: Ctx, name: str | None = None) -> WebResponse:
    fields = forms.fields_of(forms.server_form(await _policy_names(ctx)))
    result, form = await records.save(ctx, "servers", fields, name)
    if result.ok:
        return records.saved(ctx, "servers", result, name)
    return await _server_page(ctx, name=name, etag=ctx.field("etag") or None, **records.rejection(result, fields, form))


async def save_mailbox(ctx: Ctx, name: str) -> WebResponse:
    """Add a mailbox to the server or change its employee, policy or sync flag."""
    fields = list(_mailbox_fields(await _policy_names(ctx)))
    form = ctx.form()
    body = forms.body_from_form(fields, form)
    email = str(body.pop("email", "")).strip().lower()
    result = await backend.call(ctx.rt, "PUT", "servers/{name}/mailboxes/{email}", {"name": name, "email": email},
                                body=body)
    if result.ok:
        return ctx.redirect(f"servers/{quote(name)}#mailboxes", "saved")
    errors, problems = forms.errors_by_field(fields, result.field_errors)
    if not errors:
        errors["email"] = "; ".join(problems) or result.message
    server = await backend.call(ctx.rt, "GET", "servers/{name}", {"name": name})
    server_fields = forms.fields_of(forms.server_form(await _policy_names(ctx)))
    return await _server_page(ctx, values=forms.form_values(server_fields, server.data), name=name, etag=server.etag,
                              status=400, mailbox_values=forms.submitted_values(fields, form), mailbox_errors=errors)


async def delete_mailbox(ctx: Ctx, name: str, email: str) -> WebResponse:
    await backend.call(ctx.rt, "DELETE", "servers/{name}/mailboxes/{email}", {"name": name, "email": email})
    return ctx.redirect(f"servers/{quote(name)}#mailboxes", "deleted")


async def test_server(ctx: Ctx, name: str) -> WebResponse:
    result = await backend.call(ctx.rt, "POST", "servers/{name}/test", {"name": name})
    return ctx.page("partials/findings.html", 200 if result.ok else result.status, action="Test server",
                    result=result.data, ok=result.ok)


async def initialize_server(ctx: Ctx, name: str) -> WebResponse:
    result = await backend.call(ctx.rt, "POST", "servers/{name}/initialize", {"name": name}, body={})
    return ctx.page("partials/initialized.html", 200 if result.ok else result.status, result=result.data,
                    ok=result.ok)
