"""Admin API of the ``system-mailboxes`` resource (PRODUCT §7): CRUD with ETags, Test, dry run, run now.

:data:`ROUTE_SPECS` are the keyword arguments of :class:`shared.admin.api.Route`; ``api.ROUTES``
appends them, so the Functions registration and the OpenAPI document include them.
Validation is the policies' kind: a 400 naming each bad field and the fix.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field

from shared.admin.bodies import _Body
from shared.admin.http import ApiRequest, ApiResponse
from shared.domain.config import parse
from shared.errors import AlreadyExists, ValidationFailed
from shared.mailproc import intake
from shared.mailproc.model import SystemMailbox
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_DRY_RUN = 50


class SystemMailboxTest(_Body):
    address: str
    ok: bool
    findings: list[dict[str, Any]] = Field(default_factory=list)


class DryRun(_Body):
    address: str
    decisions: list[dict[str, Any]] = Field(default_factory=list)


class RunQueued(_Body):
    address: str
    queued: bool


def _if_match(req: ApiRequest) -> str | None:
    value = req.header("If-Match")
    return None if value in (None, "*") else value


def _json(entry: intake.Entry, status: int = 200) -> ApiResponse:
    return ApiResponse.json(entry.mailbox.model_dump(mode="json"), status, {"ETag": entry.etag})


async def _validated(rt: Runtime, body: dict[str, Any]) -> SystemMailbox:
    mailbox = parse(SystemMailbox, body).check()
    if await rt.state.get_server(mailbox.server) is None:
        raise ValidationFailed({"server": f"server {mailbox.server} does not exist; create it first "
                                          "(POST /api/servers) or name an existing one"})
    return mailbox


async def list_system_mailboxes(rt: Runtime, req: ApiRequest) -> ApiResponse:
    return ApiResponse.json([e.mailbox.model_dump(mode="json") for e in await intake.list_all(rt)])


async def create_system_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    mailbox = await _validated(rt, req.json_object())
    if await intake.get(rt, mailbox.address) is not None:
        raise AlreadyExists(f"system mailbox {mailbox.address} already exists; change it with PUT")
    etag = await rt.state.put_doc(intake.KIND, mailbox.address, {
        "settings": mailbox.model_dump(mode="json"), "created_at": rt.clock.now().isoformat()})
    logger.info("system mailbox created")
    return ApiResponse.json(mailbox.model_dump(mode="json"), 201, {"ETag": etag})


async def get_system_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    return _json(await intake.require(rt, req.param("address")))


async def put_system_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    address = req.param("address").lower()
    body = req.json_object()
    given = body.get("address")
    if given is not None and str(given).lower() != address:
        raise ValidationFailed({"address": f"differs from the URL ({address}); remove it or make them equal"})
    mailbox = await _validated(rt, {**body, "address": address})
    existing = await intake.get(rt, address)
    created_at = existing.created_at if existing else rt.clock.now()
    etag = await intake.save(rt, mailbox, _if_match(req), created_at)
    return ApiResponse.json(mailbox.model_dump(mode="json"), 200 if existing else 201, {"ETag": etag})


async def delete_system_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    entry = await intake.require(rt, req.param("address"))
    wanted = _if_match(req)
    if wanted is not None and wanted != entry.etag:
        from shared.errors import ConcurrencyConflict

        raise ConcurrencyConflict(f"system mailbox {entry.mailbox.address} changed since it was read")
    await rt.state.delete_doc(intake.KIND, entry.mailbox.address)
    await rt.state.delete_cursor(entry.mailbox.address, intake.CURSOR)
    return ApiResponse.empty()


async def test_system_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    return ApiResponse.json(await intake.check(rt, req.param("address").lower()))


def _last(text: str | None) -> int:
    if not text:
        return 10
    if not text.isdigit() or not 1 <= int(text) <= MAX_DRY_RUN:
        raise ValidationFailed({"last": f"expected a number from 1 to {MAX_DRY_RUN}"})
    return int(text)


async def dry_run_system_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    address = req.param("address").lower()
    decisions = await intake.dry_run(rt, address, _last(req.query.get("last")))
    return ApiResponse.json({"address": address, "decisions": decisions})


async def run_system_mailbox(rt: Runtime, req: ApiRequest) -> ApiResponse:
    entry = await intake.require(rt, req.param("address"))
    if not entry.mailbox.processing:
        raise ValidationFailed({"active": "the mailbox is inactive or its incoming processing is off; "
                                          "turn them on first"})
    queued = await intake.enqueue(rt, [entry.mailbox.address], "manual")
    return ApiResponse.json({"address": entry.mailbox.address, "queued": bool(queued)}, 202)


SM = SystemMailbox
_BASE = "system-mailboxes"
ROUTE_SPECS: tuple[dict[str, Any], ...] = (
    {"name": "list_system_mailboxes", "method": "GET", "template": _BASE, "handler": list_system_mailboxes,
     "summary": "List system mailboxes", "response": SM, "list_response": True},
    {"name": "create_system_mailbox", "method": "POST", "template": _BASE, "handler": create_system_mailbox,
     "summary": "Add a system mailbox", "request": SM, "response": SM, "success": 201},
    {"name": "get_system_mailbox", "method": "GET", "template": f"{_BASE}/{{address}}",
     "handler": get_system_mailbox, "summary": "Get a system mailbox", "response": SM},
    {"name": "put_system_mailbox", "method": "PUT", "template": f"{_BASE}/{{address}}",
     "handler": put_system_mailbox, "summary": "Create or replace a system mailbox", "request": SM, "response": SM},
    {"name": "delete_system_mailbox", "method": "DELETE", "template": f"{_BASE}/{{address}}",
     "handler": delete_system_mailbox, "summary": "Remove a system mailbox", "success": 204},
    {"name": "test_system_mailbox", "method": "POST", "template": f"{_BASE}/{{address}}/test",
     "handler": test_system_mailbox, "summary": "Test: mailbox exists, readable and writable, Inbox subscription",
     "response": SystemMailboxTest},
    {"name": "dry_run_system_mailbox", "method": "POST", "template": f"{_BASE}/{{address}}/dry-run",
     "handler": dry_run_system_mailbox, "summary": "Decisions for the last N Inbox messages; writes nothing",
     "response": DryRun, "query": ("last",)},
    {"name": "run_system_mailbox", "method": "POST", "template": f"{_BASE}/{{address}}/run",
     "handler": run_system_mailbox, "summary": "Queue a processing run of the Inbox now", "response": RunQueued,
     "success": 202},
)
