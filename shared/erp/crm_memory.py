"""In-memory twin of :class:`shared.erp.crm.AcumaticaCrm` (same contract suite, ``tests/contract``).

Records are kept per kind with Acumatica's numbering (CaseID ``000001``…, contact/lead ids from
100), the origin of each create, and the e-mails filed with their relation, method and files.
``fail_after_writes`` raises after that many successful writes (a crash between the ERP write and
the bookkeeping, for the exactly-once tests).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from shared.errors import NotFound, RemoteError
from shared.ports import CrmRecord, InboundEmail


class InMemoryCrm:
    def __init__(self, employees: dict[str, str] | None = None) -> None:
        self.records: dict[str, dict[str, CrmRecord]] = {"case": {}, "lead": {}, "contact": {}}
        self.emails: dict[str, InboundEmail] = {}
        self.employees = {k.lower(): v for k, v in (employees or {}).items()}
        self.reopened: list[str] = []
        self.writes = 0
        self.fail_after_writes: int | None = None
        self._numbers = {"case": 0, "lead": 100, "contact": 100}

    def _wrote(self) -> None:
        self.writes += 1
        if self.fail_after_writes is not None and self.writes >= self.fail_after_writes:
            self.fail_after_writes = None
            raise RemoteError("injected failure after an ERP write")

    def _add(self, kind: str, email: str, origin: str) -> CrmRecord:
        self._numbers[kind] += 1
        number = f"{self._numbers[kind]:06d}" if kind == "case" else str(self._numbers[kind])
        record = CrmRecord(kind, str(uuid.uuid4()), number, email=email.lower(), origin=origin)
        self.records[kind][record.id] = record
        self._wrote()
        return record

    async def find_contact(self, email: str) -> CrmRecord | None:
        wanted = email.strip().lower()
        return next((c for c in self.records["contact"].values() if wanted and c.email == wanted), None)

    async def find_employee(self, email: str) -> str | None:
        return self.employees.get(email.strip().lower())

    async def create_contact(self, email: str, name: str, *, origin: str, owner: str | None) -> CrmRecord:
        return self._add("contact", email, origin)

    async def find_case(self, number: str) -> CrmRecord | None:
        return next((c for c in self.records["case"].values() if c.number == number), None)

    async def get_record(self, kind: str, record_id: str) -> CrmRecord | None:
        return self.records.get(kind, {}).get(record_id)

    async def create_case(self, *, subject: str, description: str, case_class: str, contact: CrmRecord | None,
                          owner: str | None, workgroup: str | None, origin: str) -> CrmRecord:
        return self._add("case", contact.email if contact else "", origin)

    async def create_lead(self, *, email: str, name: str, lead_class: str | None, owner: str | None,
                          workgroup: str | None, origin: str) -> CrmRecord:
        return self._add("lead", email, origin)

    def close_case(self, record_id: str) -> None:
        self.records["case"][record_id] = dataclasses.replace(self.records["case"][record_id], closed=True)

    async def reopen_case(self, record_id: str) -> None:
        if record_id not in self.records["case"]:
            raise NotFound(f"case {record_id} no longer exists")
        self.records["case"][record_id] = dataclasses.replace(self.records["case"][record_id], closed=False)
        self.reopened.append(record_id)
        self._wrote()

    async def find_by_origin(self, kind: str, origin: str) -> CrmRecord | None:
        if kind == "email":
            found = next((k for k, e in self.emails.items() if e.origin == origin), None)
            return CrmRecord("email", found, found) if found else None
        return next((r for r in self.records[kind].values() if r.origin == origin), None)

    async def create_email(self, email: InboundEmail) -> str:
        note_id = str(uuid.uuid4())
        self.emails[note_id] = email
        self._wrote()
        return note_id

    def filed(self) -> list[dict[str, Any]]:
        """Every filed e-mail: subject, relation, method (for assertions)."""
        return [{"subject": e.subject, "related": e.related, "method": e.method} for e in self.emails.values()]
