"""``CrmGateway`` for Acumatica (Default/24.200.001): the one CRM gateway of exsync.

Serves the system mailboxes (cases, leads, contacts, incoming e-mail) and the Outlook add-in (the
records around a mail, filing a mail to a record, creating a record from a mail). Runs in the
session of an :class:`~shared.erp.acumatica.AcumaticaErpGateway` (one login for the sync, the
system mailboxes and the add-in). Linking follows Acumatica: an Email's ``RelatedEntityType`` +
``RelatedEntityNoteID`` name the record (the type names in :mod:`shared.erp.crm_kinds`). The
idempotency key and the e-mail's Message-ID travel in the record's note (the same tagged lines
the sync engine uses); the threading method that matched is one more note line. The add-in's
look-ups cost a fixed number of requests: addresses are OR-ed into one ``$filter`` per entity.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from shared.domain.records import EmailMessage
from shared.erp import mapping
from shared.erp.crm_kinds import KINDS, RELATED_KINDS, RELATED_TYPES, Kind
from shared.erp.session import AcumaticaSession, error_message
from shared.errors import NotFound, RemoteError, ValidationFailed
from shared.ports import AttachmentContent, CrmRecord, InboundEmail

logger = logging.getLogger(__name__)

METHOD_TAG = "exsync-thread:"
MAX_ADDRESSES = 20
CLOSED = {"case": ("Closed", "Released"), "opportunity": ("Won", "Lost"), "lead": ("Converted",)}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _any_of(field: str, values: Iterable[str], *, numeric: bool = False) -> str:
    return " or ".join(f"{field} eq {v if numeric else _quote(v)}" for v in values)


def _open(kind: str) -> str:
    return " and ".join(f"Status ne {_quote(s)}" for s in CLOSED[kind])


def _split_name(name: str, email: str) -> tuple[str | None, str]:
    first, _, last = name.strip().rpartition(" ")
    return (first or None), (last or email.split("@")[0])


def record_of(kind: str, entity: Mapping[str, Any]) -> CrmRecord:
    """A CRM record from an entity of ``kind`` as Acumatica serves it."""
    info = KINDS[Kind(kind)]
    text = mapping.text
    email = text(entity.get("ContactInfo") or {}, "Email") if kind == "employee" else text(entity, "Email")
    status = text(entity, "Status")
    return CrmRecord(kind=kind, id=str(entity.get("id") or text(entity, "NoteID")), number=text(entity, info.key),
                     closed=kind == "case" and status == "Closed", email=email.lower(),
                     origin=mapping.meta_from_note(mapping.note_text(entity)).get("origin"),
                     title=text(entity, info.title) or text(entity, info.key), status=status,
                     contact=text(entity, "ContactID"), account=text(entity, "BusinessAccount"))


class AcumaticaCrm:
    """The CRM port on an Acumatica session; ``requests`` counts the ERP calls made."""

    def __init__(self, session: AcumaticaSession, endpoint: str = "Default/24.200.001") -> None:
        self._session = session
        self._prefix = f"/entity/{endpoint.strip('/')}"
        self._employees: dict[str, str] | None = None
        self.requests = 0

    def _path(self, kind: str, *parts: str) -> str:
        entity = "Email" if kind == "email" else KINDS[Kind(kind)].entity
        return "/".join([self._prefix, entity, *parts])

    async def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                    json: Any = None, headers: Mapping[str, str] | None = None,
                    content: bytes | None = None) -> httpx.Response:
        self.requests += 1
        conditional = method == "PUT" and content is None and bool(headers)  # a create or an update
        response = await self._session.request(method, path, params=params, json=json, headers=headers,
                                               content=content, idempotent=not conditional)
        if response.status_code == 422:
            raise ValidationFailed({"record": f"{method} {path}: {error_message(response)}"})
        if response.status_code == 412 and headers and headers.get("If-Match") == "*":
            raise NotFound(f"{method} {path}: the record no longer exists")
        if response.status_code == 500 and method == "GET" and "No entity" in response.text:
            return httpx.Response(404, request=response.request)  # Acumatica's answer for a missing id
        if response.status_code >= 400 and response.status_code != 404:
            raise RemoteError(f"Acumatica {method} {path} answered {response.status_code}: "
                              f"{error_message(response)}", status=response.status_code)
        return response

    async def _list(self, kind: str, params: Mapping[str, str]) -> list[CrmRecord]:
        response = await self._call("GET", self._path(kind), params=params)
        rows = response.json() if response.status_code == 200 else []
        if not isinstance(rows, list):
            raise RemoteError(f"Acumatica listed {kind} records without an array")
        return [record_of(kind, row) for row in rows]

    async def _one(self, kind: str, filter_: str) -> CrmRecord | None:
        rows = await self._list(kind, {"$filter": filter_, "$top": "1"})
        return rows[0] if rows else None

    # ------------------------------------------------------------ system mailboxes

    async def find_contact(self, email: str) -> CrmRecord | None:
        wanted = email.strip().lower()
        return await self._one("contact", f"Email eq {_quote(wanted)}") if wanted else None

    async def find_employee(self, email: str) -> str | None:
        if self._employees is None:
            self._employees = {r.email: r.number for r in await self._list("employee", {"$expand": "ContactInfo"})
                               if r.email}
        return self._employees.get(email.strip().lower())

    async def _create(self, kind: str, body: dict[str, Any], origin: str, note: str = "") -> CrmRecord:
        body["note"] = {"value": mapping.note_with_meta(None, origin=origin) + note}
        response = await self._call("PUT", self._path(kind), json=body, headers={"If-None-Match": "*"})
        return record_of(kind, response.json())

    async def create_contact(self, email: str, name: str, *, origin: str, owner: str | None) -> CrmRecord:
        first, last = _split_name(name, email)
        body = mapping.wrap({"Email": email.lower(), "FirstName": first, "LastName": last})
        if owner:
            body["Owner"] = {"value": owner}
        return await self._create("contact", body, origin)

    async def find_case(self, number: str) -> CrmRecord | None:
        response = await self._call("GET", self._path("case", quote(number, safe="")),
                                    params={"$select": "CaseID,Subject,Status,NoteID"})
        return record_of("case", response.json()) if response.status_code == 200 else None

    async def get_record(self, kind: str, record_id: str) -> CrmRecord | None:
        params = {"$expand": "ContactInfo"} if kind == "employee" else None
        response = await self._call("GET", self._path(kind, quote(record_id, safe="")), params=params)
        return record_of(kind, response.json()) if response.status_code == 200 else None

    async def create_case(self, *, subject: str, description: str, case_class: str, contact: CrmRecord | None,
                          owner: str | None, workgroup: str | None, origin: str) -> CrmRecord:
        values: dict[str, Any] = {"ClassID": case_class, "Subject": subject[:255] or "(no subject)",
                                  "Description": description}
        if contact is not None and contact.number.isdigit():
            values["ContactID"] = int(contact.number)
        values.update({k: v for k, v in (("Owner", owner), ("Workgroup", workgroup)) if v})
        return await self._create("case", mapping.wrap(values), origin)

    async def create_lead(self, *, email: str, name: str, lead_class: str | None, owner: str | None,
                          workgroup: str | None, origin: str) -> CrmRecord:
        first, last = _split_name(name, email)
        values: dict[str, Any] = {"Email": email.lower(), "FirstName": first, "LastName": last, "Source": "Email"}
        values.update({k: v for k, v in (("LeadClass", lead_class), ("Owner", owner), ("Workgroup", workgroup)) if v})
        return await self._create("lead", mapping.wrap(values), origin)

    async def reopen_case(self, record_id: str) -> None:
        response = await self._call("PUT", self._path("case"), json={"id": record_id, "Status": {"value": "Open"}},
                                    headers={"If-Match": "*"})
        if response.status_code == 404:
            raise NotFound(f"case {record_id} no longer exists")

    async def find_by_origin(self, kind: str, origin: str) -> CrmRecord | None:
        """The record created with exactly this key (``substringof`` narrows; the note line decides)."""
        rows = await self._list(kind, {"$filter": f"substringof({_quote(mapping.ORIGIN_TAG + origin)}, note)"}) \
            if kind != "email" else await self._emails_by_origin(origin)
        return next((r for r in rows if r.origin == origin), None)

    async def _emails_by_origin(self, origin: str) -> list[CrmRecord]:
        response = await self._call("GET", self._path("email"), params={
            "$filter": f"substringof({_quote(mapping.ORIGIN_TAG + origin)}, note)", "$select": "NoteID,note"})
        rows = response.json() if response.status_code == 200 else []
        return [CrmRecord("email", str(r.get("id")), str(r.get("id")),
                          origin=mapping.meta_from_note(mapping.note_text(r)).get("origin")) for r in rows]

    async def _put_email(self, body: dict[str, Any], files: Sequence[AttachmentContent]) -> str:
        response = await self._call("PUT", self._path("email"), json=body, headers={"If-None-Match": "*"})
        note_id = str(response.json()["id"])
        for file in files:
            path = self._path("email", note_id, "files", quote(file.meta.name, safe=""))
            await self._call("PUT", path, content=file.content, headers={"Content-Type": "application/octet-stream"})
        return note_id

    async def create_email(self, email: InboundEmail) -> str:
        values: dict[str, Any] = {
            "Subject": email.subject[:255] or "(no subject)", "Body": email.body, "From": email.from_address,
            "To": mapping.join_addresses(email.to), "Cc": mapping.join_addresses(email.cc),
            "StartDate": mapping.format_time(email.sent_at), "Incoming": True, "MailStatus": mapping.PROCESSED}
        if email.related is not None:
            values["RelatedEntityType"] = RELATED_TYPES[email.related[0]]
            values["RelatedEntityNoteID"] = email.related[1]
        values.update({k: v for k, v in (("Owner", email.owner), ("Workgroup", email.workgroup)) if v})
        body = mapping.wrap(values)
        note = mapping.note_with_meta(None, origin=email.origin, message_id=email.internet_message_id or None)
        body["note"] = {"value": f"{note}\n{METHOD_TAG}{email.method}"}
        note_id = await self._put_email(body, email.files)
        logger.debug("filed an incoming e-mail as %s (%s)", note_id, email.method)
        return note_id

    # ------------------------------------------------------------ the Outlook add-in

    async def records_for(self, addresses: Sequence[str]) -> list[CrmRecord]:
        wanted = list(dict.fromkeys(a.strip().lower() for a in addresses if a.strip()))[:MAX_ADDRESSES]
        if not wanted:
            return []
        contacts = await self._list("contact", {"$filter": _any_of("Email", wanted),
                                                "$select": "ContactID,DisplayName,Email,BusinessAccount,NoteID"})
        leads = await self._list("lead", {"$filter": f"({_any_of('Email', wanted)}) and {_open('lead')}",
                                          "$select": "LeadID,LeadDisplayName,Email,Status,NoteID"})
        employees = await self._list("employee", {"$filter": _any_of("ContactInfo/Email", wanted),
                                                  "$expand": "ContactInfo"})
        accounts_ids = sorted({c.account for c in contacts if c.account})
        numbers = sorted({c.number for c in contacts if c.number})
        accounts = await self._list("account", {"$filter": _any_of("BusinessAccountID", accounts_ids),
                                                "$select": "BusinessAccountID,Name,NoteID"}) if accounts_ids else []
        around = " or ".join(p for p in (_any_of("ContactID", numbers, numeric=True),
                                         _any_of("BusinessAccount", accounts_ids)) if p)
        found = [*contacts, *leads, *employees, *accounts]
        for kind, key in (("case", "CaseID"), ("opportunity", "OpportunityID")):
            if around:
                found += await self._list(kind, {"$filter": f"({around}) and {_open(kind)}",
                                                 "$select": f"{key},Subject,Status,ContactID,BusinessAccount,NoteID"})
        return found

    async def email_targets(self, email_ids: Sequence[str]) -> list[tuple[str, str]]:
        if not email_ids:
            return []
        response = await self._call("GET", self._path("email"), params={
            "$filter": _any_of("NoteID", (f"guid{_quote(i)}" for i in email_ids), numeric=True),
            "$select": "NoteID,RelatedEntityType,RelatedEntityNoteID"})
        rows = response.json() if response.status_code == 200 else []
        return [(RELATED_KINDS[kind], mapping.text(r, "RelatedEntityNoteID")) for r in rows
                if (kind := mapping.text(r, "RelatedEntityType")) in RELATED_KINDS
                and mapping.text(r, "RelatedEntityNoteID")]

    async def file_email(self, email: EmailMessage, related: tuple[str, str], *, owner: str | None, origin: str,
                         files: Sequence[AttachmentContent] = ()) -> tuple[str, bool]:
        found = await self.find_by_origin("email", origin)
        if found is not None:
            return found.id, False
        body = mapping.email_from_domain(email, owner=owner, origin=origin)
        body.update(mapping.wrap({"RelatedEntityType": RELATED_TYPES[related[0]], "RelatedEntityNoteID": related[1]}))
        return await self._put_email(body, files), True

    async def create_record(self, kind: str, fields: Mapping[str, Any], *, owner: str | None,
                            origin: str) -> tuple[CrmRecord, bool]:
        found = await self.find_by_origin(kind, origin)
        if found is not None:
            return found, False
        body = mapping.wrap({k: v for k, v in fields.items() if v not in (None, "")})
        if owner:
            body["Owner"] = {"value": owner}
        return await self._create(kind, body, origin), True
