"""The ERP's CRM records around a mail, over one Acumatica session (contract-based REST).

:meth:`CrmClient.records_for` finds the contacts, leads and employees of a set of addresses, the
business accounts of those contacts and their open cases and opportunities in a fixed number of
requests (one per entity: addresses are OR-ed into one ``$filter``), so the pane costs the ERP's
request budget O(1) per mail. :meth:`CrmClient.log_email` files a mail as an Email activity
related to one record, idempotently: the Email carries the origin key in its note (as the engine's
activities do) and a second filing of the same mail to the same record finds it instead of
creating another.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.addin.kinds import KINDS, Kind
from shared.domain.records import EmailMessage
from shared.erp import mapping
from shared.erp.acumatica import _raise_for
from shared.erp.session import AcumaticaSession
from shared.errors import NotFound, RemoteError
from shared.ports import AttachmentContent

logger = logging.getLogger(__name__)

ENDPOINT = "/entity/Default/24.200.001"
MAX_ADDRESSES = 20
CLOSED_CASE = ("Closed", "Released")
CLOSED_OPPORTUNITY = ("Won", "Lost")


@dataclasses.dataclass(frozen=True)
class ErpRecord:
    """One ERP record as the pane lists it."""

    kind: Kind
    id: str            # NoteID
    key: str           # ContactID, CaseID, … (what users see)
    title: str
    detail: str = ""   # e-mail, status, account …
    contact_key: str = ""
    account: str = ""

    def as_json(self, link: str | None) -> dict[str, Any]:
        return {"kind": self.kind.value, "id": self.id, "key": self.key, "title": self.title,
                "detail": self.detail, "link": link}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _any_of(field: str, values: Iterable[str], *, numeric: bool = False) -> str:
    return " or ".join(f"{field} eq {v if numeric else _quote(v)}" for v in values)


def _text(entity: Mapping[str, Any], field: str) -> str:
    return mapping.text(entity, field)


def _record(kind: Kind, entity: Mapping[str, Any], detail: str = "") -> ErpRecord:
    info = KINDS[kind]
    return ErpRecord(kind, str(entity.get("id") or _text(entity, "NoteID")), _text(entity, info.key),
                     _text(entity, info.title) or _text(entity, info.key), detail,
                     contact_key=_text(entity, "ContactID"), account=_text(entity, "BusinessAccount"))


class CrmClient:
    """CRM reads and writes for the add-in; ``requests`` counts calls (the pane's ERP cost)."""

    def __init__(self, session: AcumaticaSession) -> None:
        self._session = session
        self.requests = 0

    async def _list(self, entity: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        self.requests += 1
        path = f"{ENDPOINT}/{entity}"
        response = await self._session.request("GET", path, params=params)
        _raise_for(response, f"GET {entity}")
        body = response.json()
        if not isinstance(body, list):
            raise RemoteError(f"Acumatica listed {entity} without an array")
        return body

    async def _put(self, entity: str, body: Mapping[str, Any], *, create_only: bool) -> dict[str, Any]:
        self.requests += 1
        headers = {"If-None-Match": "*"} if create_only else None
        response = await self._session.request("PUT", f"{ENDPOINT}/{entity}", json=dict(body), headers=headers,
                                               idempotent=False)
        _raise_for(response, f"PUT {entity}")
        out: dict[str, Any] = response.json()
        return out

    # ------------------------------------------------------------ reads

    async def records_for(self, addresses: Sequence[str]) -> list[ErpRecord]:
        """Contacts, leads, employees, accounts, open cases and opportunities around ``addresses``."""
        wanted = list(dict.fromkeys(a.strip().lower() for a in addresses if a.strip()))[:MAX_ADDRESSES]
        if not wanted:
            return []
        contacts = [_record(Kind.CONTACT, c, _text(c, "Email")) for c in await self._list(
            "Contact", {"$filter": _any_of("Email", wanted),
                        "$select": "ContactID,DisplayName,Email,BusinessAccount,NoteID"})]
        leads = [_record(Kind.LEAD, c, _text(c, "Email")) for c in await self._list(
            "Lead", {"$filter": f"({_any_of('Email', wanted)}) and Status ne 'Converted'",
                     "$select": "LeadID,LeadDisplayName,Email,Status,NoteID"})]
        employees = [_record(Kind.EMPLOYEE, e, mapping.text(e.get("ContactInfo") or {}, "Email"))
                     for e in await self._list("Employee", {"$filter": _any_of("ContactInfo/Email", wanted),
                                                            "$expand": "ContactInfo"})]
        accounts_ids = sorted({c.account for c in contacts if c.account})
        keys = sorted({c.key for c in contacts if c.key})
        accounts = [_record(Kind.ACCOUNT, a) for a in await self._list(
            "BusinessAccount", {"$filter": _any_of("BusinessAccountID", accounts_ids),
                                "$select": "BusinessAccountID,Name,NoteID"})] if accounts_ids else []
        around = " or ".join(p for p in (_any_of("ContactID", keys, numeric=True),
                                         _any_of("BusinessAccount", accounts_ids)) if p)
        cases: list[ErpRecord] = []
        opportunities: list[ErpRecord] = []
        if around:
            open_case = " and ".join(f"Status ne {_quote(s)}" for s in CLOSED_CASE)
            cases = [_record(Kind.CASE, c, _text(c, "Status")) for c in await self._list(
                "Case", {"$filter": f"({around}) and {open_case}",
                         "$select": "CaseID,Subject,Status,ContactID,BusinessAccount,NoteID"})]
            open_opp = " and ".join(f"Status ne {_quote(s)}" for s in CLOSED_OPPORTUNITY)
            opportunities = [_record(Kind.OPPORTUNITY, o, _text(o, "Status")) for o in await self._list(
                "Opportunity", {"$filter": f"({around}) and {open_opp}",
                                "$select": "OpportunityID,Subject,Status,ContactID,BusinessAccount,NoteID"})]
        return [*contacts, *leads, *employees, *accounts, *cases, *opportunities]

    async def get(self, kind: Kind, record_id: str) -> ErpRecord:
        """One record by NoteID, or NotFound naming it."""
        info = KINDS[kind]
        self.requests += 1
        response = await self._session.request("GET", f"{ENDPOINT}/{info.entity}/{record_id}")
        if response.status_code == 404 or (response.status_code == 500 and "No entity" in response.text):
            raise NotFound(f"{kind.value} {record_id} does not exist in the ERP")
        _raise_for(response, f"GET {info.entity}")
        return _record(kind, response.json())

    async def email_targets(self, email_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(RelatedEntityType, RelatedEntityNoteID) of the given Email activities."""
        if not email_ids:
            return []
        guids = [f"guid{_quote(i)}" for i in email_ids]
        rows = await self._list("Email", {"$filter": _any_of("NoteID", guids, numeric=True),
                                          "$select": "NoteID,RelatedEntityType,RelatedEntityNoteID"})
        return [(_text(r, "RelatedEntityType"), _text(r, "RelatedEntityNoteID")) for r in rows
                if _text(r, "RelatedEntityNoteID")]

    # ------------------------------------------------------------ writes

    async def find_by_origin(self, entity: str, origin: str) -> dict[str, Any] | None:
        tag = mapping.ORIGIN_TAG + origin
        for row in await self._list(entity, {"$filter": f"substringof({_quote(tag)}, note)"}):
            note = row.get("note")
            text = note.get("value") if isinstance(note, Mapping) else note
            if mapping.meta_from_note(str(text or "")).get("origin") == origin:
                return row
        return None

    async def log_email(self, email: EmailMessage, target: ErpRecord, *, owner: str, origin: str,
                        files: Sequence[AttachmentContent] = ()) -> tuple[dict[str, Any], bool]:
        """The Email activity for ``email`` related to ``target``; (entity, created)."""
        found = await self.find_by_origin("Email", origin)
        if found is not None:
            return found, False
        related_type = KINDS[target.kind].related_type
        assert related_type is not None
        body = mapping.email_from_domain(email, owner=owner, origin=origin)
        body.update(mapping.wrap({"RelatedEntityType": related_type, "RelatedEntityNoteID": target.id}))
        created = await self._put("Email", body, create_only=True)
        for file in files:
            await self._attach("Email", str(created["id"]), file)
        return created, True

    async def _attach(self, entity: str, record_id: str, file: AttachmentContent) -> None:
        self.requests += 1
        name = file.meta.name.replace("/", "_").replace("\\", "_")
        response = await self._session.request("PUT", f"{ENDPOINT}/{entity}/{record_id}/files/{name}",
                                               content=file.content, idempotent=True)
        _raise_for(response, f"PUT {entity} file")

    async def create(self, kind: Kind, fields: Mapping[str, Any], *, owner: str | None,
                     origin: str) -> tuple[ErpRecord, bool]:
        """A new record of ``kind`` (or the one this origin already created); (record, created)."""
        info = KINDS[kind]
        found = await self.find_by_origin(info.entity, origin)
        if found is not None:
            return _record(kind, found), False
        body = mapping.wrap({k: v for k, v in fields.items() if v not in (None, "")})
        if owner:
            body["Owner"] = {"value": owner}
        body["note"] = {"value": mapping.note_with_meta(None, origin=origin)}
        created = await self._put(info.entity, body, create_only=True)
        return _record(kind, created), True
