"""``CrmGateway`` for Acumatica (Default/24.200.001): cases, leads, contacts and incoming e-mail.

Runs in the session of an :class:`~shared.erp.acumatica.AcumaticaErpGateway` (one login for the
sync and the system mailboxes). Linking follows Acumatica: an Email's ``RelatedEntityType`` +
``RelatedEntityNoteID`` name the case (``PX.Objects.CR.CRCase``), lead (``PX.Objects.CR.CRLead``)
or contact. The idempotency key and the e-mail's Message-ID travel in the record's note (the same
tagged lines the sync engine uses); the threading method that matched is one more note line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from shared.erp import mapping
from shared.erp.session import AcumaticaSession, error_message
from shared.errors import NotFound, RemoteError, ValidationFailed
from shared.ports import CrmRecord, InboundEmail

logger = logging.getLogger(__name__)

RELATED_TYPES = {"case": "PX.Objects.CR.CRCase", "lead": "PX.Objects.CR.CRLead",
                 "contact": mapping.CONTACT_TYPE}
ENTITIES = {"case": "Case", "lead": "Lead", "contact": "Contact", "email": "Email"}
NUMBERS = {"case": "CaseID", "lead": "LeadID", "contact": "ContactID", "email": "NoteID"}
METHOD_TAG = "exsync-thread:"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value(entity: Mapping[str, Any], name: str) -> Any:
    field = entity.get(name)
    return field.get("value") if isinstance(field, Mapping) else None


def _split_name(name: str, email: str) -> tuple[str | None, str]:
    first, _, last = name.strip().rpartition(" ")
    return (first or None), (last or email.split("@")[0])


class AcumaticaCrm:
    """The CRM port on an Acumatica session."""

    def __init__(self, session: AcumaticaSession, endpoint: str = "Default/24.200.001") -> None:
        self._session = session
        self._prefix = f"/entity/{endpoint.strip('/')}"
        self._employees: dict[str, str] | None = None

    def _path(self, kind: str, *parts: str) -> str:
        return "/".join([self._prefix, ENTITIES[kind], *parts])

    async def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                    json: Any = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        response = await self._session.request(method, path, params=params, json=json, headers=headers,
                                               idempotent=method != "PUT" or not headers)
        if response.status_code == 422:
            raise ValidationFailed({"record": f"{method} {path}: {error_message(response)}"})
        if response.status_code == 412 and headers and headers.get("If-Match") == "*":
            raise NotFound(f"{method} {path}: the record no longer exists")
        if response.status_code >= 400 and response.status_code != 404:
            raise RemoteError(f"Acumatica {method} {path} answered {response.status_code}: "
                              f"{error_message(response)}", status=response.status_code)
        return response

    def _record(self, kind: str, entity: Mapping[str, Any]) -> CrmRecord:
        meta = mapping.meta_from_note(mapping.note_text(entity))
        return CrmRecord(kind=kind, id=str(entity.get("id") or _value(entity, "NoteID")),
                         number=str(_value(entity, NUMBERS[kind]) or ""),
                         closed=kind == "case" and _value(entity, "Status") == "Closed",
                         email=str(_value(entity, "Email") or ""), origin=meta.get("origin"))

    async def _one(self, kind: str, filter_: str) -> CrmRecord | None:
        response = await self._call("GET", self._path(kind), params={"$filter": filter_, "$top": "1"})
        rows = response.json() if response.status_code == 200 else []
        return self._record(kind, rows[0]) if rows else None

    async def find_contact(self, email: str) -> CrmRecord | None:
        wanted = email.strip().lower()
        return await self._one("contact", f"Email eq {_quote(wanted)}") if wanted else None

    async def find_employee(self, email: str) -> str | None:
        if self._employees is None:
            response = await self._call("GET", f"{self._prefix}/Employee", params={"$expand": "ContactInfo"})
            self._employees = {}
            for row in response.json() if response.status_code == 200 else []:
                address = str(_value(row.get("ContactInfo") or {}, "Email") or "").lower()
                if address:
                    self._employees[address] = str(_value(row, "EmployeeID"))
        return self._employees.get(email.strip().lower())

    async def _create(self, kind: str, body: dict[str, Any], origin: str) -> CrmRecord:
        body["note"] = {"value": mapping.note_with_meta(None, origin=origin)}
        response = await self._call("PUT", self._path(kind), json=body, headers={"If-None-Match": "*"})
        return self._record(kind, response.json())

    async def create_contact(self, email: str, name: str, *, origin: str, owner: str | None) -> CrmRecord:
        first, last = _split_name(name, email)
        body = mapping.wrap({"Email": email.lower(), "FirstName": first, "LastName": last})
        if owner:
            body["Owner"] = {"value": owner}
        return await self._create("contact", body, origin)

    async def find_case(self, number: str) -> CrmRecord | None:
        response = await self._call("GET", self._path("case", quote(number, safe="")),
                                    params={"$select": "CaseID,Status,NoteID"})
        return self._record("case", response.json()) if response.status_code == 200 else None

    async def get_record(self, kind: str, record_id: str) -> CrmRecord | None:
        response = await self._call("GET", self._path(kind, record_id))
        return self._record(kind, response.json()) if response.status_code == 200 else None

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
        return await self._one(kind, f"substringof({_quote(mapping.ORIGIN_TAG + origin)}, note)")

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
        response = await self._call("PUT", self._path("email"), json=body, headers={"If-None-Match": "*"})
        note_id = str(response.json()["id"])
        for file in email.files:
            path = self._path("email", note_id, "files", quote(file.meta.name, safe=""))
            await self._session.request("PUT", path, content=file.content,
                                        headers={"Content-Type": "application/octet-stream"})
        logger.debug("filed an incoming e-mail as %s (%s)", note_id, email.method)
        return note_id
