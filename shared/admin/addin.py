"""Routes of the Outlook add-in under ``/api/addin`` (joined to the admin API's route table); the
add-in's rules live in :mod:`shared.addin`.

Every route but ``addin/config`` needs the user's Entra token (``Authorization: Bearer``) and a
synced employee (:mod:`shared.addin.identity`). The message is always read through Graph with
the app's permissions: the pane sends ids, never mail content. Who did what is logged at INFO
(user, action, record kind and key); subjects, bodies and addresses only at DEBUG.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from shared.addin import filing, prefill
from shared.addin.bodies import (
    ConfigOut,
    CreateBody,
    CreateOut,
    LinkOut,
    LogBody,
    LogOut,
    MessageOut,
    MessageRef,
)
from shared.addin.identity import Employee, validator_for
from shared.addin.mail import MailView, conversation_stamps, graph_http, read_message
from shared.admin.http import ApiRequest, ApiResponse
from shared.admin.lookup import mailbox_context
from shared.auth.entra import bearer_token
from shared.domain.config import parse
from shared.erp.crm import AcumaticaCrm
from shared.erp.crm_kinds import CREATABLE, FILE_TARGETS, Kind, parse_kind
from shared.erp.session import AcumaticaSession
from shared.errors import ConfigurationError, NotFound, NotPermitted
from shared.mailproc import intake
from shared.ports import CrmGateway, CrmRecord
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_FILED_LOOKUPS = 5  # engine-stamped e-mails of the conversation asked for their record
MAX_FILED = 10  # records listed as "filed to" (each one ERP read unless the add-in filed it)


async def employee(rt: Runtime, authorization: str | None) -> Employee:
    """The synced employee the ``Authorization`` header speaks for (401 / 403 otherwise)."""
    token = bearer_token(authorization)  # no token: 401 even where the add-in is not configured
    caller = await validator_for(rt.settings).validate(token)
    stored = await rt.state.get_mailbox(caller.username)
    if stored is None or not stored.value.sync:
        raise NotPermitted(f"{caller.username} is not a synced employee of exsync; ask an administrator to "
                           f"add the mailbox under a server (PUT /api/servers/<server>/mailboxes/{caller.username})"
                           " with sync on")
    try:
        mailbox, server, policy = await mailbox_context(rt.state, caller.username)
    except NotFound as exc:
        raise NotPermitted(f"{caller.username}'s mailbox configuration is incomplete: {exc}") from exc
    return Employee(caller, mailbox, server, policy)


def erp_link(emp: Employee, record_id: str) -> str | None:
    """The ERP link of a record: the policy's link template + the record id (as contacts get)."""
    template = emp.policy.contacts.hyperlink
    return f"{template.rstrip('/')}/{record_id}" if template else None


def _record_json(emp: Employee, record: CrmRecord) -> dict[str, Any]:
    """A record as the pane lists it; ``detail``: the address of a person, the status of a case."""
    detail = record.email if record.kind in ("contact", "lead", "employee") else record.status
    return {"kind": record.kind, "id": record.id, "key": record.number, "title": record.title, "detail": detail,
            "link": erp_link(emp, record.id)}


async def _get(crm: CrmGateway, kind: Kind, record_id: str) -> CrmRecord:
    record = await crm.get_record(kind.value, record_id)
    if record is None:
        raise NotFound(f"{kind.value} {record_id} does not exist in the ERP")
    return record


@contextlib.asynccontextmanager
async def crm_session(rt: Runtime) -> AsyncIterator[CrmGateway]:
    """The CRM gateway over a pooled ERP session (handed back after the block)."""
    async with rt.erp_session() as gateway:
        session = getattr(gateway, "session", None)
        if not isinstance(session, AcumaticaSession):
            raise ConfigurationError("the add-in needs the Acumatica gateway; this runtime has another ERP")
        yield AcumaticaCrm(session)


async def _mail(rt: Runtime, emp: Employee, ref: MessageRef) -> tuple[MailView, Any]:
    gateway = await rt.mailbox_gateway(emp.server)
    mail = await read_message(graph_http(gateway), emp.email, rest_id=ref.message_id,
                              internet_message_id=ref.internet_message_id)
    logger.debug("add-in: %s opened %r", emp.email, mail.subject)
    return mail, gateway


async def _filed(rt: Runtime, emp: Employee, crm: CrmGateway, mail: MailView, http: Any) -> list[dict[str, Any]]:
    """Where the conversation is filed: by the add-in, by a system mailbox, by the sync (each record once)."""
    out: list[dict[str, Any]] = []
    for target in await filing.filed_to(rt.state, emp.email, mail.conversation_id):
        out.append({"kind": target["kind"], "id": target["id"], "key": target["key"], "title": target["title"],
                    "detail": f"filed by {target['by']}", "link": erp_link(emp, target["id"]), "source": "addin"})
    boxes = [entry.mailbox.address for entry in await intake.list_all(rt)]
    found = [(kind, record_id, f"filed by {box}", "system_mailbox") for kind, record_id, box in
             await filing.system_threads(rt.state, boxes, mail.internet_message_id, mail.conversation_id)]
    stamps = await conversation_stamps(http, emp.email, mail.conversation_id)
    found += [(kind, note_id, "linked by the sync", "sync")
              for kind, note_id in (await crm.email_targets(stamps[:MAX_FILED_LOOKUPS]) if stamps else [])]
    seen = {(o["kind"], o["id"].lower()) for o in out}
    for kind, record_id, detail, source in found:
        if (kind, record_id.lower()) in seen or len(seen) >= MAX_FILED:
            continue
        seen.add((kind, record_id.lower()))
        record = await crm.get_record(kind, record_id)
        if record is not None:
            out.append({**_record_json(emp, record), "detail": detail, "source": source})
    return out


def _sender_contact(records: list[CrmRecord], mail: MailView) -> CrmRecord | None:
    sender = mail.sender.address if mail.sender else ""
    return next((r for r in records if r.kind == Kind.CONTACT and r.email == sender), None)


# ---------------------------------------------------------------- handlers


async def get_config(rt: Runtime, req: ApiRequest) -> ApiResponse:
    """What the pane needs to sign in (no secrets)."""
    s = rt.settings
    configured = bool(s.tenant_id and s.addin_client_id)
    resource = s.addin_app_id_uri or (f"api://{s.addin_client_id}" if s.addin_client_id else None)
    return ApiResponse.json(ConfigOut(
        client_id=s.addin_client_id, configured=configured,
        authority=f"{s.addin_authority.rstrip('/')}/{s.tenant_id}" if s.tenant_id else None,
        scopes=[f"{resource}/{s.addin_scope}"] if resource else []).model_dump())


async def get_message(rt: Runtime, req: ApiRequest) -> ApiResponse:
    emp = await employee(rt, req.header("Authorization"))
    ref = parse(MessageRef, {"message_id": req.query.get("id") or None,
                             "internet_message_id": req.query.get("internetMessageId") or None})
    mail, gateway = await _mail(rt, emp, ref)
    async with crm_session(rt) as crm:
        records = await crm.records_for(mail.addresses())
        filed = await _filed(rt, emp, crm, mail, graph_http(gateway))
    contact = _sender_contact(records, mail)
    logger.info("add-in: %s looked up a message (%d record(s), filed to %d)", emp.email, len(records), len(filed))
    out = MessageOut(
        user={"email": emp.email, "name": emp.caller.name, "employee_id": emp.mailbox.employee_id},
        message=mail.summary(), records=[_record_json(emp, r) for r in records], filed=filed,
        prefill={k.value: prefill.prefill(k, mail, contact) for k in CREATABLE},
        can_file=[k.value for k in FILE_TARGETS], max_attachment_kb=rt.settings.addin_max_attachment_kb)
    return ApiResponse.json(out.model_dump())


async def _log(rt: Runtime, emp: Employee, crm: CrmGateway, mail: MailView, gateway: Any, target: CrmRecord,
               attachments: bool) -> LogOut:
    files: tuple[Any, ...] = ()
    limit = rt.settings.addin_max_attachment_kb * 1024
    if attachments and limit and mail.has_attachments:
        files = await gateway.read_attachments(emp.email, mail.id, limit)
    email_id, created = await crm.file_email(mail.as_email(emp.email), (target.kind, target.id),
                                             owner=emp.mailbox.employee_id,
                                             origin=prefill.log_origin(mail, target.kind, target.id), files=files)
    await filing.remember(rt.state, emp.email, mail.conversation_id, target, by=emp.email, at=rt.clock.now(),
                          message=mail.internet_message_id or mail.id)
    logger.info("add-in: %s filed a mail to %s %s (%s, %d attachment(s))", emp.email, target.kind,
                target.number, "new e-mail activity" if created else "already filed", len(files))
    return LogOut(email_id=email_id, created=created, target=_record_json(emp, target))


async def log_email(rt: Runtime, req: ApiRequest) -> ApiResponse:
    emp = await employee(rt, req.header("Authorization"))
    body = parse(LogBody, req.json_object())
    kind = parse_kind(body.target_kind, "target_kind", FILE_TARGETS)
    mail, gateway = await _mail(rt, emp, body)
    async with crm_session(rt) as crm:
        target = await _get(crm, kind, body.target_id)
        out = await _log(rt, emp, crm, mail, gateway, target, body.attachments)
    return ApiResponse.json(out.model_dump(), 201 if out.created else 200)


async def create_record(rt: Runtime, req: ApiRequest) -> ApiResponse:
    emp = await employee(rt, req.header("Authorization"))
    body = parse(CreateBody, req.json_object())
    kind = parse_kind(body.kind, "kind", CREATABLE)
    mail, gateway = await _mail(rt, emp, body)
    async with crm_session(rt) as crm:
        sender = [mail.sender.address] if mail.sender else []
        contact = _sender_contact(await crm.records_for(sender), mail) if kind in (Kind.CASE, Kind.OPPORTUNITY) \
            else None
        fields = prefill.merge_fields(kind, prefill.prefill(kind, mail, contact), body.fields)
        record, created = await crm.create_record(kind.value, fields, owner=emp.mailbox.employee_id,
                                                  origin=prefill.create_origin(mail, kind))
        logger.info("add-in: %s %s %s %s from a mail", emp.email, "created" if created else "found the",
                    kind.value, record.number)
        logged = await _log(rt, emp, crm, mail, gateway, record, False) \
            if body.log and kind in FILE_TARGETS else None
    out = CreateOut(record=_record_json(emp, record), created=created, logged=logged)
    return ApiResponse.json(out.model_dump(), 201 if created else 200)


async def get_link(rt: Runtime, req: ApiRequest) -> ApiResponse:
    emp = await employee(rt, req.header("Authorization"))
    parse_kind(req.param("kind"), "kind", tuple(Kind))
    url = erp_link(emp, req.param("id"))
    message = None if url else ("no ERP link template: set contacts.hyperlink in policy "
                                f"{emp.mailbox.policy_name(emp.server)}")
    return ApiResponse.json(LinkOut(url=url, message=message).model_dump())


# Route specs for shared.admin.api.Route (plain keyword sets: this module must not import the admin
# route table, which imports it).
ROUTE_SPECS: tuple[dict[str, Any], ...] = (
    {"name": "addin_config", "method": "GET", "template": "addin/config", "handler": get_config,
     "summary": "Add-in sign-in settings (client id, authority, scopes)", "response": ConfigOut,
     "anonymous": True},
    {"name": "addin_message", "method": "GET", "template": "addin/message", "handler": get_message,
     "summary": "A message (read through Graph), its people's ERP records, where its conversation is filed",
     "response": MessageOut, "query": ("id", "internetMessageId"), "anonymous": True},
    {"name": "addin_log", "method": "POST", "template": "addin/log", "handler": log_email,
     "summary": "File the message to a contact, case, opportunity or lead (idempotent)", "request": LogBody,
     "response": LogOut, "success": 201, "anonymous": True},
    {"name": "addin_create", "method": "POST", "template": "addin/records", "handler": create_record,
     "summary": "Create a contact, lead, case or opportunity prefilled from the message", "request": CreateBody,
     "response": CreateOut, "success": 201, "anonymous": True},
    {"name": "addin_link", "method": "GET", "template": "addin/link/{kind}/{id}", "handler": get_link,
     "summary": "The ERP link of a record", "response": LinkOut, "anonymous": True},
)
