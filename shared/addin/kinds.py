"""The ERP record kinds the add-in shows and files to, with their Acumatica names.

One table (:data:`KINDS`) says, per kind, the entity, its key field, the text shown, the
``RelatedEntityType`` an Email uses to point at it, whether mail can be filed to it and which
fields a create may set. The related-entity type names of Case, Lead and Opportunity follow
Acumatica's DAC names (to verify on a real instance, see docs/outlook-addin.md).
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from shared.errors import ValidationFailed


class Kind(StrEnum):
    CONTACT = "contact"
    LEAD = "lead"
    EMPLOYEE = "employee"
    ACCOUNT = "account"
    CASE = "case"
    OPPORTUNITY = "opportunity"


@dataclasses.dataclass(frozen=True)
class KindInfo:
    entity: str
    key: str
    title: str                      # field shown as the record's name
    related_type: str | None        # Email.RelatedEntityType; None: mail cannot be filed to it
    creatable: tuple[str, ...] = ()  # fields a create may set


KINDS: dict[Kind, KindInfo] = {
    Kind.CONTACT: KindInfo("Contact", "ContactID", "DisplayName", "PX.Objects.CR.Contact",
                           ("FirstName", "LastName", "Email", "CompanyName", "JobTitle", "Phone1",
                            "BusinessAccount")),
    Kind.LEAD: KindInfo("Lead", "LeadID", "LeadDisplayName", "PX.Objects.CR.CRLead",
                        ("FirstName", "LastName", "Email", "CompanyName", "Description", "Phone1")),
    Kind.EMPLOYEE: KindInfo("Employee", "EmployeeID", "EmployeeName", None),
    Kind.ACCOUNT: KindInfo("BusinessAccount", "BusinessAccountID", "Name", "PX.Objects.CR.BAccount"),
    Kind.CASE: KindInfo("Case", "CaseID", "Subject", "PX.Objects.CR.CRCase",
                        ("Subject", "Description", "ClassID", "Priority", "ContactID", "BusinessAccount")),
    Kind.OPPORTUNITY: KindInfo("Opportunity", "OpportunityID", "Subject", "PX.Objects.CR.CROpportunity",
                               ("Subject", "ClassID", "ContactID", "BusinessAccount", "Details")),
}
FILE_TARGETS = tuple(k for k, info in KINDS.items() if info.related_type and k is not Kind.ACCOUNT)
CREATABLE = tuple(k for k, info in KINDS.items() if info.creatable)


def parse_kind(text: str, field: str, allowed: tuple[Kind, ...]) -> Kind:
    """``text`` as one of ``allowed``, or ValidationFailed naming ``field`` and the choices."""
    try:
        kind = Kind(text.lower())
    except ValueError:
        kind = None
    if kind not in allowed:
        raise ValidationFailed({field: f"{text!r} is not one of {', '.join(k.value for k in allowed)}"})
    assert kind is not None
    return kind
