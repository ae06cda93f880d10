"""Admin API of transactional mail (PRODUCT §8): a system mailbox's sending status, run now, doctor.

:data:`ROUTE_SPECS` are keyword arguments of :class:`shared.admin.api.Route`; ``api.ROUTES`` appends
them. The suspend switches are fields of the resources they belong to: ``sending.suspended`` of
the system mailbox (PUT ``/api/system-mailboxes/{address}``) and ``suspend_sending`` of the server.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.admin.bodies import _Body
from shared.admin.http import ApiRequest, ApiResponse
from shared.errors import ValidationFailed
from shared.mailproc import intake
from shared.mailsend import pickup
from shared.runtime import Runtime


class SendingStatus(_Body):
    address: str
    status: dict[str, Any] | None = None


class SendQueued(_Body):
    address: str
    queued: bool


class SendingCheck(_Body):
    address: str
    ok: bool
    findings: list[dict[str, Any]] = Field(default_factory=list)


async def sending_status(rt: Runtime, req: ApiRequest) -> ApiResponse:
    entry = await intake.require(rt, req.param("address"))
    address = entry.mailbox.address
    return ApiResponse.json({"address": address, "status": await pickup.status(rt, address)})


async def send_now(rt: Runtime, req: ApiRequest) -> ApiResponse:
    entry = await intake.require(rt, req.param("address"))
    if entry.mailbox.sending.erp_account_id is None:
        raise ValidationFailed({"sending.erp_account_id": "the mailbox sends no ERP mail; set the ERP account first"})
    queued = await pickup.enqueue(rt, [entry.mailbox.address], "manual")
    return ApiResponse.json({"address": entry.mailbox.address, "queued": bool(queued)}, 202)


async def sending_check(rt: Runtime, req: ApiRequest) -> ApiResponse:
    address = req.param("address").lower()
    findings = await pickup.doctor(rt, address)
    return ApiResponse.json({"address": address, "ok": all(f["ok"] for f in findings), "findings": findings})


_BASE = "system-mailboxes/{address}"
ROUTE_SPECS: tuple[dict[str, Any], ...] = (
    {"name": "system_mailbox_sending", "method": "GET", "template": f"{_BASE}/sending", "handler": sending_status,
     "summary": "Transactional mail: the last sending run and the quota used", "response": SendingStatus},
    {"name": "system_mailbox_send", "method": "POST", "template": f"{_BASE}/send", "handler": send_now,
     "summary": "Queue a sending run of the ERP mail waiting for this mailbox now", "response": SendQueued,
     "success": 202},
    {"name": "system_mailbox_sending_check", "method": "POST", "template": f"{_BASE}/sending/check",
     "handler": sending_check, "summary": "Doctor: is exsync the only sender of the mailbox's ERP account",
     "response": SendingCheck},
)
