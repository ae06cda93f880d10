"""The simulated Acumatica database: records per entity, business rules, timestamps, files.

Records are plain dicts (see :mod:`sim.acumatica.schema`) keyed by their ``id`` (the NoteID).
Rules enforced here answer the way Acumatica does: 412 for failed ``If-Match``/``If-None-Match``
preconditions (:class:`PreconditionFailed`), 422 with per-field messages for invalid values
(:class:`Invalid`), 404 for unknown ids (:class:`Missing`). Every committed write stamps a
``LastModifiedDateTime`` strictly greater than any earlier one (millisecond resolution, bumped
by 1 ms when two writes fall in the same millisecond).
"""

from __future__ import annotations

import copy
import dataclasses
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sim.acumatica import crm, odata, outbox

ACTIVITY_STATUSES = ("Draft", "Open", "In Process", "Completed", "Approved", "Rejected", "Canceled",
                     "Pending Approval", "Released")
PRIORITIES = ("Low", "Normal", "High")
MAIL_STATUSES = ("Draft", "Pending Processing", "Processing", "Scheduled", "Processed", "Canceled",
                 "Failed", "Deleted")
SHOW_AS = ("Free", "Tentative", "Busy", "Out of Office")
INVITATION_STATUSES = ("Not Invited", "Invited", "Accepted", "Declined", "Rescheduled", "Canceled")
CONTACT_STATUSES = ("Active", "Inactive")
RELATED_TYPES = {"PX.Objects.CR.Contact": "Contact", "PX.Objects.CR.BAccount": "BusinessAccount", **crm.RELATED}
# Allowed task status changes through the API (source -> targets); other sources are unrestricted.
TASK_TRANSITIONS = {
    "Draft": {"Draft", "Open", "Canceled"},
    "Open": {"Open", "Draft", "In Process", "Canceled", "Completed"},
    "In Process": {"Open", "Draft", "In Process", "Canceled", "Completed"},
    "Canceled": {"Open", "In Process", "Canceled"},
    "Completed": {"Open", "In Process", "Completed"},
}
EMAIL_RE = re.compile(r"^[^@\s;<>]+@[^@\s;<>]+\.[^@\s;<>]+$")
RELATED_ENTITY = ("RelatedEntityType", "RelatedEntityNoteID")


class PreconditionFailed(Exception):
    """If-None-Match / If-Match precondition failed (412)."""


class Invalid(Exception):
    """Field values are invalid (422); ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, str], record: dict[str, Any]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.record = record


class Missing(Exception):
    """No record with this id or key (404)."""


@dataclasses.dataclass(frozen=True)
class EntityRules:
    key: str
    auto_key: bool = False
    read_only: frozenset[str] = frozenset()


_COMMON_RO = frozenset({"NoteID", "LastModifiedDateTime", "CreatedDateTime", "CreatedByID"})
RULES: dict[str, EntityRules] = {
    "Contact": EntityRules("ContactID", auto_key=True, read_only=_COMMON_RO | {
        "ContactID", "DisplayName", "OwnerEmployeeName", "FullName", "WorkgroupDescription"}),
    "Email": EntityRules("NoteID", read_only=_COMMON_RO | {"RelatedEntityDescription", "ParentSummary",
                                                           "FromEmailAccountDisplayName"}),
    "Task": EntityRules("NoteID", read_only=_COMMON_RO | {"RelatedEntityDescription", "ParentSummary"}),
    "Event": EntityRules("NoteID", read_only=_COMMON_RO | {"RelatedEntityDescription"}),
    "Employee": EntityRules("EmployeeID", read_only=frozenset({"LastModifiedDateTime"})),
    "BusinessAccount": EntityRules("BusinessAccountID", read_only=_COMMON_RO | {"OwnerEmployeeName"}),
    "Case": EntityRules("CaseID", auto_key=True, read_only=_COMMON_RO | {
        "CaseID", "ClosingDate", "OwnerEmployeeName", "ContactDisplayName", "BusinessAccountName", "Activities",
        "LastActivityDate", "WorkgroupDescription"}),
    "Lead": EntityRules("LeadID", auto_key=True, read_only=_COMMON_RO | {
        "LeadID", "LeadDisplayName", "OwnerEmployeeName", "Activities", "WorkgroupDescription"}),
    "Opportunity": EntityRules("OpportunityID", auto_key=True, read_only=_COMMON_RO | {
        "OpportunityID", "ContactDisplayName", "Activities"}),
}


@dataclasses.dataclass
class StoredFile:
    id: str
    entity: str
    record_id: str
    name: str
    content: bytes


@dataclasses.dataclass
class Change:
    """One committed change, for push notifications."""

    entity: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


class Store:
    """All simulated records, files and the write clock."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in RULES}
        self.files: dict[str, StoredFile] = {}
        self._last = datetime(2000, 1, 1, tzinfo=UTC)
        self._next_contact = 100
        self.email_accounts: dict[int, dict[str, Any]] = {}  # system e-mail accounts (see outbox)

    # ------------------------------------------------------------ clock and lookup

    def tick(self) -> datetime:
        """A write timestamp strictly greater than every earlier one (ms resolution)."""
        now = self._now().astimezone(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        self._last = now
        return now

    def find(self, entity: str, ident: str) -> dict[str, Any] | None:
        """A record by ``id`` (GUID) or by its key value."""
        table = self.records[entity]
        if ident.lower() in table:
            return table[ident.lower()]
        key = RULES[entity].key
        for record in table.values():
            if str(record.get(key, "")).lower() == ident.lower():
                return record
        return None

    def get(self, entity: str, ident: str) -> dict[str, Any]:
        record = self.find(entity, ident)
        if record is None:
            raise Missing(f"No entity satisfies the condition: {entity} {ident}")
        return record

    def query(self, entity: str, node: odata.Node | None) -> list[dict[str, Any]]:
        rows = list(self.records[entity].values())
        return rows if node is None else [r for r in odata.candidates(node, rows) if odata.evaluate(node, r)]

    # ------------------------------------------------------------ writes

    def upsert(self, entity: str, plain: dict[str, Any], *, create_only: bool, update_only: bool,
               type_errors: dict[str, str], match: odata.Node | None = None) -> tuple[dict[str, Any], Change]:
        """PUT semantics: match by ``id`` or key (or by the request's ``$filter``: the first record
        it selects, which must also carry a given ``id``), apply, validate, stamp, commit. A filter
        that selects nothing means a new record, so with ``If-Match: *`` a stale condition is 412."""
        rules = RULES[entity]
        existing = None
        if match is not None:
            existing = next((r for r in self.query(entity, match)
                             if not plain.get("id") or r["id"] == str(plain["id"]).lower()), None)
        elif plain.get("id"):
            existing = self.records[entity].get(str(plain["id"]).lower())
        if existing is None and match is None and plain.get(rules.key) not in (None, ""):
            existing = self.find(entity, str(plain[rules.key]))
        if existing is None and match is not None and str(plain.get("id") or "").lower() in self.records[entity]:
            raise PreconditionFailed(f"{entity} {plain['id']} does not satisfy the $filter of the PUT")
        if existing is not None and create_only:
            raise PreconditionFailed(f"{entity} already exists and If-None-Match: * forbids an update")
        if existing is None and update_only:
            raise PreconditionFailed(f"{entity} does not exist and If-Match: * forbids an insert")
        old = copy.deepcopy(existing) if existing is not None else None
        record = copy.deepcopy(existing) if existing is not None else self._new(entity, plain)
        errors = dict(type_errors)
        self._apply(entity, record, plain, errors)
        self._validate(entity, record, old, errors)
        if errors:
            raise Invalid(errors, record)
        if old is None and entity in crm.ENTITIES:
            record[rules.key] = crm.number(self, entity)
        record["LastModifiedDateTime"] = self.tick()
        if old is None:
            record["CreatedDateTime"] = record["LastModifiedDateTime"]
        self.records[entity][record["id"]] = record
        return record, Change(entity, old, copy.deepcopy(record))

    def delete(self, entity: str, ident: str) -> Change:
        record = self.get(entity, ident)
        del self.records[entity][record["id"]]
        for file_id in [f.id for f in self.files.values() if f.record_id == record["id"]]:
            del self.files[file_id]
        return Change(entity, record, None)

    def attach(self, entity: str, ident: str, name: str, content: bytes) -> StoredFile:
        """Attach (or replace by name) a file on a record; records keep their timestamp."""
        record = self.get(entity, ident)
        for stored in self.files.values():
            if stored.record_id == record["id"] and stored.name == name:
                stored.content = content
                return stored
        stored = StoredFile(str(uuid.uuid4()), entity, record["id"], name, content)
        self.files[stored.id] = stored
        return stored

    def files_of(self, record_id: str) -> list[StoredFile]:
        return [f for f in self.files.values() if f.record_id == record_id]

    # ------------------------------------------------------------ internals

    def _new(self, entity: str, plain: dict[str, Any]) -> dict[str, Any]:
        note_id = str(plain.get("id") or uuid.uuid4()).lower()
        record: dict[str, Any] = {"id": note_id}
        if entity != "Employee":
            record["NoteID"] = note_id
        if entity in crm.ENTITIES:
            pass  # numbered when the record is committed (a rejected write takes no number)
        elif RULES[entity].auto_key:
            self._next_contact += 1
            record[RULES[entity].key] = self._next_contact
        return record

    def _apply(self, entity: str, record: dict[str, Any], plain: dict[str, Any], errors: dict[str, str]) -> None:
        rules = RULES[entity]
        for name, value in plain.items():
            if name == "id" or name in rules.read_only:
                continue  # read-only fields are ignored, as the API does
            if name == "Attendees":
                record[name] = self._merge_lines(record.get(name, []), value, errors)
            elif isinstance(value, dict):
                merged = dict(record.get(name) or {})
                merged.update({k: v for k, v in value.items() if k != "id"})
                record[name] = merged
            else:
                record[name] = value
        if entity == "Contact":
            parts = [record.get("FirstName"), record.get("MiddleName"), record.get("LastName")]
            record["DisplayName"] = " ".join(p for p in parts if p) or record.get("CompanyName") or ""

    @staticmethod
    def _merge_lines(current: list[dict[str, Any]], lines: list[dict[str, Any]],
                     errors: dict[str, str]) -> list[dict[str, Any]]:
        result = [dict(line) for line in current]
        for i, line in enumerate(lines):
            target = next((r for r in result if line.get("id") and r["id"] == str(line["id"]).lower()), None)
            if line.get("delete"):
                if target is None:
                    target = next((r for r in result if line.get("Email")
                                   and str(r.get("Email", "")).lower() == str(line["Email"]).lower()), None)
                if target is not None:
                    result.remove(target)
                continue
            values = {k: v for k, v in line.items() if k not in ("id", "delete")}
            if target is not None:
                target.update(values)
            elif line.get("id"):
                errors[f"Attendees[{i}]"] = f"Attendees[{i}]: no detail line with id {line['id']}"
            else:
                result.append({"id": str(uuid.uuid4()), "InvitationStatus": "Not Invited", **values})
        return result

    def _validate(self, entity: str, record: dict[str, Any], old: dict[str, Any] | None,
                  errors: dict[str, str]) -> None:
        def choice(field: str, allowed: tuple[str, ...]) -> None:
            value = record.get(field)
            if value is not None and value not in allowed:
                errors[field] = f"{field}: '{value}' is not a valid value; use one of {', '.join(allowed)}"

        owner = record.get("Owner") if entity in ("Contact", "Email", "Task", "BusinessAccount", *crm.ENTITIES) \
            else None
        if owner and self.find("Employee", str(owner)) is None:
            errors["Owner"] = f"Owner: '{owner}' cannot be found in the system (an EmployeeID)"
        if entity == "Contact":
            record.setdefault("Status", "Active")
            choice("Status", CONTACT_STATUSES)
            email = record.get("Email")
            if email and not EMAIL_RE.match(str(email)):
                errors["Email"] = f"Email: '{email}' is not a valid email address"
        if entity in ("Email", "Task", "Event"):
            self._validate_related(record, errors)
        if entity == "Email":
            choice("MailStatus", MAIL_STATUSES)
            outbox.validate(self.email_accounts, record, old, errors)
            if not record.get("Subject"):
                errors["Subject"] = "Subject: 'Subject' cannot be empty"
        if entity in ("Task", "Event"):
            choice("Status", ACTIVITY_STATUSES)
            choice("Priority", PRIORITIES)
            if not record.get("Summary"):
                errors["Summary"] = "Summary: 'Summary' cannot be empty"
            record.setdefault("Status", "Open")
            record.setdefault("Priority", "Normal")
        if entity == "Task":
            self._validate_transition(record, old, errors)
        if entity == "Event":
            choice("ShowAs", SHOW_AS)
            self._validate_attendees(record, errors)
            start, end = record.get("StartDate"), record.get("EndDate")
            if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
                errors["EndDate"] = "EndDate: the end date cannot be earlier than the start date"
        if entity in crm.ENTITIES:
            crm.validate(self, entity, record, old, errors)
        if entity in ("Employee", "BusinessAccount") and not record.get(RULES[entity].key):
            key = RULES[entity].key
            errors[key] = f"{key}: '{key}' cannot be empty"

    def _validate_related(self, record: dict[str, Any], errors: dict[str, str]) -> None:
        kind, note_id = record.get("RelatedEntityType"), record.get("RelatedEntityNoteID")
        if kind is None and note_id is None:
            return
        if kind not in RELATED_TYPES:
            errors["RelatedEntityType"] = (f"RelatedEntityType: '{kind}' is not a valid value; use one of "
                                           f"{', '.join(RELATED_TYPES)}")
        elif not note_id or str(note_id).lower() not in self.records[RELATED_TYPES[kind]]:
            errors["RelatedEntityNoteID"] = f"RelatedEntityNoteID: no {RELATED_TYPES[kind]} with NoteID {note_id}"

    @staticmethod
    def _validate_transition(record: dict[str, Any], old: dict[str, Any] | None, errors: dict[str, str]) -> None:
        if old is None or "Status" in errors:
            return
        before, after = old.get("Status"), record.get("Status")
        allowed = TASK_TRANSITIONS.get(str(before))
        if allowed is not None and after not in allowed:
            errors["Status"] = f"Status: a task cannot change from '{before}' to '{after}'"
        if after == "Completed" and before != "Completed" and not record.get("CompletedAt"):
            record["CompletedAt"] = datetime.now(UTC)

    @staticmethod
    def _validate_attendees(record: dict[str, Any], errors: dict[str, str]) -> None:
        seen: set[str] = set()
        for i, line in enumerate(record.get("Attendees") or []):
            email = str(line.get("Email") or "").lower()
            if not EMAIL_RE.match(email):
                errors[f"Attendees[{i}].Email"] = f"Attendees[{i}].Email: '{email}' is not a valid email address"
            elif email in seen:
                errors[f"Attendees[{i}].Email"] = f"Attendees[{i}].Email: '{email}' is already an attendee"
            seen.add(email)
            status = line.get("InvitationStatus")
            if status is not None and status not in INVITATION_STATUSES:
                errors[f"Attendees[{i}].InvitationStatus"] = (
                    f"Attendees[{i}].InvitationStatus: '{status}' is not a valid value")
