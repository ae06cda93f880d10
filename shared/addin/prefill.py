"""Pure rules: the fields a new record starts with when created from a mail, and the keys that
make filing and creating idempotent.

:data:`PREFILL` has one row per kind; each value is computed from the mail (sender name and
address, subject, body) and the sender's ERP contact if there is one. The user can change any
field the kind allows (:data:`shared.erp.crm_kinds.KINDS`) before the record is created.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from shared.addin.mail import MailView
from shared.erp.crm_kinds import KINDS, Kind
from shared.errors import ValidationFailed
from shared.ports import CrmRecord

DEFAULT_CASE_CLASS = "SUPPORT"
MAX_DESCRIPTION = 4000


def split_name(name: str, address: str) -> tuple[str, str]:
    """(first, last) from a display name ("Ann Lee", "Lee, Ann"); the mailbox part when empty."""
    name = name.strip().strip('"')
    if not name or "@" in name:
        local = address.split("@")[0]
        parts = [p for p in local.replace("_", ".").replace("-", ".").split(".") if p]
        name = " ".join(p.title() for p in parts) or local
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip(), last.strip()
    first, _, last = name.rpartition(" ")
    return (first.strip(), last.strip()) if first else ("", name)


def company_of(address: str) -> str:
    """A company guess from the address's domain (``contoso.com`` -> ``Contoso``)."""
    domain = address.partition("@")[2]
    return domain.split(".")[0].title() if domain else ""


Row = Callable[[MailView, CrmRecord | None], dict[str, Any]]


def _person(mail: MailView, _contact: CrmRecord | None) -> dict[str, Any]:
    sender = mail.sender
    if sender is None:
        return {}
    first, last = split_name(sender.name, sender.address)
    return {"FirstName": first, "LastName": last, "Email": sender.address, "CompanyName": company_of(sender.address)}


def _lead(mail: MailView, contact: CrmRecord | None) -> dict[str, Any]:
    return {**_person(mail, contact), "Description": mail.subject}


def _case(mail: MailView, contact: CrmRecord | None) -> dict[str, Any]:
    return {"Subject": mail.subject or "(no subject)", "Description": mail.body[:MAX_DESCRIPTION],
            "ClassID": DEFAULT_CASE_CLASS,
            "ContactID": int(contact.number) if contact and contact.number.isdigit() else None,
            "BusinessAccount": contact.account if contact and contact.account else None}


def _opportunity(mail: MailView, contact: CrmRecord | None) -> dict[str, Any]:
    return {"Subject": mail.subject or "(no subject)", "Details": mail.body[:MAX_DESCRIPTION],
            "ContactID": int(contact.number) if contact and contact.number.isdigit() else None,
            "BusinessAccount": contact.account if contact and contact.account else None}


PREFILL: dict[Kind, Row] = {
    Kind.CONTACT: _person,          # the sender as a contact
    Kind.LEAD: _lead,               # the sender as a lead, the subject as its description
    Kind.CASE: _case,               # subject and body; the sender's contact and account when known
    Kind.OPPORTUNITY: _opportunity,  # subject and body; the sender's contact and account when known
}


def prefill(kind: Kind, mail: MailView, contact: CrmRecord | None) -> dict[str, Any]:
    """The starting fields of a ``kind`` created from ``mail`` (None values dropped)."""
    return {k: v for k, v in PREFILL[kind](mail, contact).items() if v not in (None, "")}


def merge_fields(kind: Kind, start: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``start`` overridden by the user's ``given`` fields; unknown fields are refused by name."""
    allowed = KINDS[kind].creatable
    bad = {f"fields.{k}": f"not a field of a new {kind.value}; use one of {', '.join(allowed)}"
           for k in given if k not in allowed}
    if bad:
        raise ValidationFailed(bad)
    return {**start, **given}


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def log_origin(mail: MailView, kind: str, record_id: str) -> str:
    """Same mail, same record -> same key: the second filing finds the first Email."""
    return _key("log", mail.internet_message_id or mail.id, Kind(kind).value, record_id.lower())


def create_origin(mail: MailView, kind: Kind) -> str:
    """Same mail, same kind -> same key: a repeated create returns the record made the first time."""
    return _key("create", mail.internet_message_id or mail.id, kind.value)
