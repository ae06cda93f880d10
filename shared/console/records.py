"""Saving a record through the admin API from a submitted form, for every record form alike
(policies, servers, system mailboxes): create with POST, replace with PUT and the form's ETag as
``If-Match``, and what a rejected form is re-rendered with."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.console import backend, forms
from shared.console.context import Ctx
from shared.console.web import WebResponse

CONFLICT = "Someone else changed this record since you opened it. Reload to see their version, then redo your change."


async def save(ctx: Ctx, collection: str, fields: list[forms.Field], name: str | None, *,
               key: str = "name") -> tuple[backend.Result, dict[str, list[str]]]:
    """Create (``name`` None) or replace the record ``collection/{key}``; the API's answer and the form."""
    form = ctx.form()
    body = forms.body_from_form(fields, form)
    if name is None:
        return await backend.call(ctx.rt, "POST", collection, body=body), form
    return await backend.call(ctx.rt, "PUT", f"{collection}/{{{key}}}", {key: name}, body={**body, key: name},
                              etag=ctx.field("etag") or None), form


def rejection(result: backend.Result, fields: list[forms.Field], form: dict[str, list[str]], *,
              key: str = "name") -> dict[str, Any]:
    """What a rejected form is re-rendered with: what was typed, each error next to its field."""
    errors, problems = forms.errors_by_field(fields, result.field_errors)
    if result.status == 409:
        errors[key] = result.message
    elif not result.field_errors and not result.conflict:
        problems.append(result.message or f"the API answered {result.status}")
    return {"values": forms.submitted_values(fields, form), "status": 409 if result.conflict else 400,
            "errors": errors, "problems": problems, "conflict": result.conflict}


def saved(ctx: Ctx, collection: str, result: backend.Result, name: str | None, *, key: str = "name") -> WebResponse:
    """After a save: the record's page with Created. or Saved."""
    return ctx.redirect(f"{collection}/{quote(str(result.data[key]))}", "created" if name is None else "saved")


def delete_problems(result: backend.Result) -> list[str]:
    """Why a delete was refused, unless it was an ETag conflict (the form says so itself)."""
    return [] if result.conflict else list(result.field_errors.values()) or [result.message]
