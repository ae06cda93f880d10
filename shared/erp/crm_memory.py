"""In-memory twin of :class:`shared.erp.crm.AcumaticaCrm` (same contract suite, ``tests/contract``).

Records are kept per kind with Acumatica's numbering (CaseID ``000001``…, contact/lead ids from
100), the origin of each create, and the e-mails filed with their relation, method and files.
:meth:`InMemoryCrm.add` puts a record there directly (employees and business accounts, which no
port method creates). ``fail_after_writes`` raises after that many successful writes (a crash
between the ERP write and the bookkeeping, for the exactly-once tests).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.records import EmailMessage
from shared.erp.crm import CLOSED, MAX_ADDRESSES
from shared.erp.crm_kinds import KINDS, Kind
from shared.errors import NotFound, RemoteError
from shared.ports import AttachmentContent, CrmRecord, InboundEmail

_FIRST_NUMBER = {"case": 0, "opportunity": 0, "lead": 100, "contact": 100}


@dataclasses.dataclass(frozen=True)
class FiledEmail:
    """An Email activity of the twin: what was filed, where, and how."""

    subject: str
    related: tuple[str, str] | None
    method: str
    origin: str
    owner: str | None = None
    files: tuple[AttachmentContent, ...] = ()


class InMemoryCrm:
    def __init__(self, employees: dict[str, str] | None = None) -> None:
        self.records: dict[str, dict[str, CrmRecord]] = {kind.value: {} for kind in Kind}
        self.emails: dict[str, FiledEmail] = {}
        self.reopened: list[str] = []
        self.writes = 0
        self.requests = 0
        self.fail_after_writes: int | None = None
        self._numbers = dict(_FIRST_NUMBER)
        for address, number in (employees or {}).items():
            self.add("employee", number=number, email=address, title=number)

    def _wrote(self) -> None:
        self.writes += 1
        if self.fail_after_writes is not None and self.writes >= self.fail_after_writes:
            self.fail_after_writes = None
            raise RemoteError("injected failure after an ERP write")

    def add(self, kind: str, *, number: str = "", **values: Any) -> CrmRecord:
        """A record as if it were made in the ERP (numbered like Acumatica when ``number`` is empty)."""
        if not number:
            self._numbers[kind] += 1
            number = f"{self._numbers[kind]:06d}" if kind in ("case", "opportunity") else str(self._numbers[kind])
        record = CrmRecord(kind, str(uuid.uuid4()), number, **values)
        if kind == "case":
            record = dataclasses.replace(record, closed=record.status == "Closed")
        self.records[kind][record.id] = record
        return record

    def _create(self, kind: str, origin: str, **values: Any) -> CrmRecord:
        record = self.add(kind, origin=origin, **values)
        self._wrote()
        return record

    # ------------------------------------------------------------ system mailboxes

    async def find_contact(self, email: str) -> CrmRecord | None:
        wanted = email.strip().lower()
        return next((c for c in self.records["contact"].values() if wanted and c.email == wanted), None)

    async def find_employee(self, email: str) -> str | None:
        wanted = email.strip().lower()
        return next((e.number for e in self.records["employee"].values() if e.email == wanted), None)

    async def create_contact(self, email: str, name: str, *, origin: str, owner: str | None) -> CrmRecord:
        return self._create("contact", origin, email=email.lower(), title=name or email.lower())

    async def find_case(self, number: str) -> CrmRecord | None:
        return next((c for c in self.records["case"].values() if c.number == number), None)

    async def get_record(self, kind: str, record_id: str) -> CrmRecord | None:
        return self.records.get(kind, {}).get(record_id.lower())

    async def create_case(self, *, subject: str, description: str, case_class: str, contact: CrmRecord | None,
                          owner: str | None, workgroup: str | None, origin: str) -> CrmRecord:
        return self._create("case", origin, email=contact.email if contact else "", title=subject,
                            status="New", contact=contact.number if contact else "")

    async def create_lead(self, *, email: str, name: str, lead_class: str | None, owner: str | None,
                          workgroup: str | None, origin: str) -> CrmRecord:
        return self._create("lead", origin, email=email.lower(), title=name or email.lower(), status="New")

    def close_case(self, record_id: str) -> None:
        self.records["case"][record_id] = dataclasses.replace(self.records["case"][record_id], closed=True,
                                                              status="Closed")

    async def reopen_case(self, record_id: str) -> None:
        if record_id not in self.records["case"]:
            raise NotFound(f"case {record_id} no longer exists")
        self.records["case"][record_id] = dataclasses.replace(self.records["case"][record_id], closed=False,
                                                              status="Open")
        self.reopened.append(record_id)
        self._wrote()

    async def find_by_origin(self, kind: str, origin: str) -> CrmRecord | None:
        if kind == "email":
            found = next((k for k, e in self.emails.items() if e.origin == origin), None)
            return CrmRecord("email", found, found, origin=origin) if found else None
        return next((r for r in self.records[kind].values() if r.origin == origin), None)

    def _file(self, email: FiledEmail) -> str:
        note_id = str(uuid.uuid4())
        self.emails[note_id] = email
        self._wrote()
        return note_id

    async def create_email(self, email: InboundEmail) -> str:
        return self._file(FiledEmail(email.subject, email.related, email.method, email.origin, email.owner,
                                     email.files))

    def filed(self) -> list[dict[str, Any]]:
        """Every filed e-mail: subject, relation, method (for assertions)."""
        return [{"subject": e.subject, "related": e.related, "method": e.method} for e in self.emails.values()]

    # ------------------------------------------------------------ the Outlook add-in

    def _open(self, kind: str) -> list[CrmRecord]:
        return [r for r in self.records[kind].values() if r.status not in CLOSED.get(kind, ())]

    async def records_for(self, addresses: Sequence[str]) -> list[CrmRecord]:
        wanted = set(list(dict.fromkeys(a.strip().lower() for a in addresses if a.strip()))[:MAX_ADDRESSES])
        people = [r for kind in ("contact", "lead", "employee") for r in self._open(kind) if r.email in wanted]
        contacts = [r for r in people if r.kind == "contact"]
        numbers = {c.number for c in contacts}
        accounts = {c.account for c in contacts if c.account}
        around = [r for kind in ("case", "opportunity") for r in self._open(kind)
                  if r.contact in numbers or r.account in accounts]
        return [*people, *[a for a in self.records["account"].values() if a.number in accounts], *around]

    async def email_targets(self, email_ids: Sequence[str]) -> list[tuple[str, str]]:
        wanted = {i.lower() for i in email_ids}
        return [e.related for k, e in self.emails.items() if k in wanted and e.related is not None]

    async def file_email(self, email: EmailMessage, related: tuple[str, str], *, owner: str | None, origin: str,
                         files: Sequence[AttachmentContent] = ()) -> tuple[str, bool]:
        found = await self.find_by_origin("email", origin)
        if found is not None:
            return found.id, False
        return self._file(FiledEmail(email.subject, related, "addin", origin, owner, tuple(files))), True

    async def create_record(self, kind: str, fields: Mapping[str, Any], *, owner: str | None,
                            origin: str) -> tuple[CrmRecord, bool]:
        found = await self.find_by_origin(kind, origin)
        if found is not None:
            return found, False
        info = KINDS[Kind(kind)]
        title = " ".join(str(fields[f]) for f in ("FirstName", "LastName") if fields.get(f)) \
            if info.title in ("DisplayName", "LeadDisplayName") else str(fields.get(info.title) or "")
        return self._create(kind, origin, email=str(fields.get("Email") or "").lower(), title=title,
                            status=str(fields.get("Status") or ("New" if kind != "contact" else "")),
                            contact=str(fields.get("ContactID") or ""),
                            account=str(fields.get("BusinessAccount") or "")), True
