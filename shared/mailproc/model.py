"""The ``system-mailboxes`` resource: a company mailbox (support@, sales@) whose Inbox exsync reads.

Pydantic models with ``extra="forbid"`` like every admin resource: a bad field is a
:class:`~shared.errors.ValidationFailed` naming it and the fix. The settings mirror Acumatica's
system e-mail account options (SM204002, PRODUCT §7). Incoming processing is one section
(``incoming``) so sending settings can join as a section of their own beside it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import ValidationFailed

ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")]
PLACEHOLDERS = ("{case_id}", "{subject}", "{sender_name}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class NewConversation(StrEnum):
    """What a message that starts a conversation becomes."""

    CREATE_CASE = "create_case"
    CREATE_LEAD = "create_lead"
    ASSOCIATE_CONTACT = "associate_contact"


class UnknownSender(StrEnum):
    """A sender with no ERP contact: create a contact for them, file onto a new lead, or leave the
    e-mail unassigned (no contact)."""

    CONTACT = "contact"
    LEAD = "lead"
    NONE = "none"


class ClosedCase(StrEnum):
    """A reply to a closed case: reopen it, or open a new case."""

    REOPEN = "reopen"
    NEW_CASE = "new_case"


class AfterProcessing(StrEnum):
    KEEP = "keep"
    MARK_READ = "mark_read"
    MOVE = "move"
    DELETE = "delete"


class Template(_Model):
    """An automatic reply. Placeholders: ``{case_id}``, ``{subject}``, ``{sender_name}``."""

    subject: str = Field(default="RE: {subject}", min_length=1, max_length=255)
    body: str = Field(min_length=1, max_length=20000)

    @field_validator("subject", "body")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        for found in re.findall(r"\{[^{}]*\}", value):
            if found not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {found}; use {', '.join(PLACEHOLDERS)}")
        return value


class IncomingProcessing(_Model):
    """How incoming mail becomes ERP records (PRODUCT §7)."""

    enabled: bool = True
    new_conversation: NewConversation = NewConversation.CREATE_CASE
    case_class: str | None = Field(default=None, min_length=1, max_length=30)
    lead_class: str | None = Field(default=None, min_length=1, max_length=30)
    unknown_sender: UnknownSender = UnknownSender.CONTACT
    route_employee_mail: bool = False
    closed_case: ClosedCase = ClosedCase.REOPEN
    tag_prefix: str = Field(default="EXS", pattern=r"^[A-Za-z][A-Za-z0-9]{0,9}$")
    confirm_receipt: Template | None = None
    reply_to_unassigned: Template | None = None
    reply_address: str | None = None
    default_owner: str | None = Field(default=None, min_length=1, max_length=30)
    default_workgroup: str | None = Field(default=None, min_length=1, max_length=30)
    allowed_attachment_types: tuple[str, ...] = ()
    max_attachment_kb: int = Field(default=10240, ge=1, le=150 * 1024)
    after_processing: AfterProcessing = AfterProcessing.MARK_READ
    move_to_folder: str | None = Field(default=None, min_length=1, max_length=255)

    @field_validator("allowed_attachment_types")
    @classmethod
    def _extensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for ext in value:
            clean = ext.strip().lower().lstrip(".")
            if not re.fullmatch(r"[a-z0-9]{1,10}", clean):
                raise ValueError(f"{ext!r} is not a file extension; use e.g. [\"pdf\", \"png\"]")
            out.append(clean)
        return tuple(out)

    @field_validator("reply_address")
    @classmethod
    def _reply_address(cls, value: str | None) -> str | None:
        if value is not None and not ADDRESS.match(value):
            raise ValueError("expected an e-mail address, e.g. support@contoso.com")
        return value.lower() if value else value

    def problems(self) -> dict[str, str]:
        """Options that contradict each other, by dotted field (empty: consistent)."""
        out: dict[str, str] = {}
        if self.new_conversation is NewConversation.CREATE_CASE and not self.case_class:
            out["incoming.case_class"] = "required when new_conversation is create_case (an ERP case class)"
        if self.after_processing is AfterProcessing.MOVE and not self.move_to_folder:
            out["incoming.move_to_folder"] = "required when after_processing is move (a folder name)"
        return out


class Sending(_Model):
    """Transactional mail sent from this mailbox (PRODUCT §8): the ERP's system e-mail account whose
    queued mail it sends (Acumatica's FromEmailAccountID; None: it sends nothing), the suspend switch,
    and the largest message the tenant lets the mailbox send (an e-mail with a larger file fails)."""

    erp_account_id: int | None = Field(default=None, ge=1)
    suspended: bool = False
    max_message_mb: int = Field(default=35, ge=1, le=150)  # the mailbox's MaxSendSize (Exchange default 35)


class SystemMailbox(_Model):
    """A system mailbox: a licensed or shared Microsoft 365 mailbox reached through a server's app."""

    address: str
    server: NAME
    display_name: str = Field(default="", max_length=256)
    active: bool = True
    incoming: IncomingProcessing = IncomingProcessing(case_class="SUPPORT")
    sending: Sending = Sending()

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not ADDRESS.match(value):
            raise ValueError("expected the mailbox address, e.g. support@contoso.com")
        return value.lower()

    def check(self) -> SystemMailbox:
        """This mailbox, or ValidationFailed naming each contradicting option."""
        problems = self.incoming.problems()
        if problems:
            raise ValidationFailed(problems)
        return self

    @property
    def processing(self) -> bool:
        """Incoming mail is processed (the mailbox is active and processing is on)."""
        return self.active and self.incoming.enabled
