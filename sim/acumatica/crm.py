"""CRM entities of the simulated instance: Case, Lead and Opportunity, their Activities, and the Email
actions that create a case or a lead from an e-mail.

Rules (answered the way the store answers every rule: 422 with per-field messages):
- Case: ``ClassID`` and ``Subject`` are required; ``Status`` is one of :data:`CASE_STATUSES`
  (default New); ``ContactID`` must name a Contact; closing (Status Closed) stamps ``ClosingDate``
  and needs a ``Reason`` (default "Resolved"); a closed case can be reopened (Status Open).
  ``CaseID`` is numbered by the instance (``000001``…).
- Lead: ``Email`` valid when given, ``Status`` one of :data:`LEAD_STATUSES`; ``LeadID`` numbered
  like contacts. Opportunity: ``Subject`` required, ``Status`` one of :data:`OPPORTUNITY_STATUSES`.
- ``Activities`` of a case, lead or opportunity are not stored: they are the Email/Task/Event rows
  whose ``RelatedEntityNoteID`` is the record (served only with ``$expand=Activities``).
- ``POST /Email/CreateCaseFromEmail`` / ``CreateLeadFromEmail`` ``{"entity": {"id": …}}``: a new case
  (class :data:`DEFAULT_CASE_CLASS`, the e-mail's subject and body, the sender's contact) or lead
  (the sender's address and name) and the e-mail re-linked to it; 204 like a finished action. An
  e-mail already linked to a case or lead answers 422.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

Store = Any  # sim.acumatica.store.Store, which imports this module (no import circle)

CASE_TYPE = "PX.Objects.CR.CRCase"
LEAD_TYPE = "PX.Objects.CR.CRLead"
OPPORTUNITY_TYPE = "PX.Objects.CR.CROpportunity"
RELATED = {CASE_TYPE: "Case", LEAD_TYPE: "Lead", OPPORTUNITY_TYPE: "Opportunity"}
CASE_STATUSES = ("New", "Open", "Pending Customer", "Closed", "Released")
LEAD_STATUSES = ("New", "Open", "Suspended", "Lost", "Converted")
OPPORTUNITY_STATUSES = ("New", "Open", "Won", "Lost")
DEFAULT_CASE_CLASS = "SUPPORT"
ENTITIES = ("Case", "Lead", "Opportunity")
ACTIVITY_ENTITIES = (("Email", "Email"), ("Task", "Task"), ("Event", "Event"))
EMAIL_ACTIONS = ("CreateCaseFromEmail", "CreateLeadFromEmail")
_ADDRESS = re.compile(r"^\s*(?:\"?([^\"<]*)\"?\s*)?<?([^<>\s]+@[^<>\s]+)>?\s*$")


def number(store: Store, entity: str) -> Any:
    """The next CaseID / OpportunityID (text) or LeadID (an int shared with contact ids)."""
    if entity == "Lead":
        store._next_contact += 1
        return store._next_contact
    counters: dict[str, int] = store.__dict__.setdefault("crm_numbers", {})
    counters[entity] = counters.get(entity, 0) + 1
    return f"{counters[entity]:06d}" if entity == "Case" else f"OP{counters[entity]:06d}"


def _choice(record: dict[str, Any], field: str, allowed: tuple[str, ...], errors: dict[str, str]) -> None:
    value = record.get(field)
    if value is not None and value not in allowed:
        errors[field] = f"{field}: '{value}' is not a valid value; use one of {', '.join(allowed)}"


def validate(store: Store, entity: str, record: dict[str, Any], old: dict[str, Any] | None,
             errors: dict[str, str]) -> None:
    """Business rules of the CRM entities (see the module docstring)."""
    if entity == "Case":
        record.setdefault("Status", "New")
        record.setdefault("DateReported", datetime.now(UTC))
        _choice(record, "Status", CASE_STATUSES, errors)
        for field in ("ClassID", "Subject"):
            if not record.get(field):
                errors[field] = f"{field}: '{field}' cannot be empty"
        contact = record.get("ContactID")
        if contact is not None and store.find("Contact", str(contact)) is None:
            errors["ContactID"] = f"ContactID: no contact {contact}"
        closing = record.get("Status") == "Closed"
        if closing and (old is None or old.get("Status") != "Closed"):
            record["ClosingDate"] = datetime.now(UTC)
            record.setdefault("Reason", "Resolved")
        if not closing and old is not None and old.get("Status") == "Closed":
            record["ClosingDate"] = None
    elif entity == "Lead":
        record.setdefault("Status", "New")
        _choice(record, "Status", LEAD_STATUSES, errors)
        email = record.get("Email")
        if email and "@" not in str(email):
            errors["Email"] = f"Email: '{email}' is not a valid email address"
        parts = [record.get("FirstName"), record.get("LastName")]
        record["LeadDisplayName"] = " ".join(p for p in parts if p) or record.get("CompanyName") or email or ""
    elif entity == "Opportunity":
        record.setdefault("Status", "New")
        _choice(record, "Status", OPPORTUNITY_STATUSES, errors)
        if not record.get("Subject"):
            errors["Subject"] = "Subject: 'Subject' cannot be empty"


def activities(store: Store, note_id: str) -> list[dict[str, Any]]:
    """The ActivityDetail lines of a case, lead or opportunity (its related activities)."""
    lines = []
    for entity, kind in ACTIVITY_ENTITIES:
        for row in store.records[entity].values():
            if str(row.get("RelatedEntityNoteID") or "").lower() == note_id.lower():
                lines.append({"id": row["id"], "NoteID": row["id"], "RefNoteID": note_id, "Type": kind,
                              "Summary": row.get("Subject") or row.get("Summary"), "Status": row.get("Status"),
                              "StartDate": row.get("StartDate"), "CreatedDateTime": row.get("CreatedDateTime"),
                              "Owner": row.get("Owner")})
    return sorted(lines, key=lambda line: str(line.get("CreatedDateTime") or ""))


def sender(email: dict[str, Any]) -> tuple[str, str]:
    """``(display name, address)`` of an e-mail's From."""
    match = _ADDRESS.match(str(email.get("From") or ""))
    if match is None:
        return "", ""
    return (match.group(1) or "").strip(), match.group(2).lower()


def from_email(store: Store, action: str, email: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    """The record an Email action creates, ``(entity, plain values)``; or the reason it cannot."""
    linked = RELATED.get(str(email.get("RelatedEntityType") or ""))
    if linked in ("Case", "Lead"):
        return f"The email is already linked to a {linked.lower()}."
    name, address = sender(email)
    if action == "CreateCaseFromEmail":
        record: dict[str, Any] = {"ClassID": DEFAULT_CASE_CLASS, "Subject": email.get("Subject"),
                                  "Description": email.get("Body")}
        contact = next((c for c in store.records["Contact"].values()
                        if address and str(c.get("Email") or "").lower() == address), None)
        if contact is not None:
            record["ContactID"] = contact["ContactID"]
        elif email.get("RelatedEntityType") == "PX.Objects.CR.Contact":
            linked_contact = store.records["Contact"].get(str(email.get("RelatedEntityNoteID")).lower())
            if linked_contact is not None:
                record["ContactID"] = linked_contact["ContactID"]
        return "Case", record
    first, _, last = name.partition(" ")
    return "Lead", {"Email": address, "FirstName": first or None, "LastName": last or address.split("@")[0],
                    "Source": "Email"}


def link_type(entity: str) -> str:
    return {v: k for k, v in RELATED.items()}[entity]
