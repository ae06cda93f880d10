"""The CRM record kinds of :class:`~shared.erp.crm.AcumaticaCrm`, with their Acumatica names.

One table (:data:`KINDS`) says, per kind, the entity, its key field, the text shown, the
``RelatedEntityType`` an Email uses to point at it, whether mail can be filed to it and which
fields a create may set. The ``RelatedEntityType`` names are Acumatica's ``CRTargetEntityType``
constants (PX.Objects.CR: ``PX.Objects.CR.Contact``, ``…CRLead``, ``…BAccount``, ``…CRCase``,
``…CROpportunity``), as the REST examples of Acumatica's Integration Development Guide write them;
the simulator accepts exactly these (docs/outlook-addin.md, "Related entity types").
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from shared.erp.mapping import CONTACT_TYPE
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
    Kind.CONTACT: KindInfo("Contact", "ContactID", "DisplayName", CONTACT_TYPE,
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
RELATED_TYPES = {kind.value: info.related_type for kind, info in KINDS.items() if info.related_type}
RELATED_KINDS = {related: kind for kind, related in RELATED_TYPES.items()}


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
