"""The pure decision for one incoming message of a system mailbox (PRODUCT §7).

message + its headers + what exsync already knows (threads it filed, the case a subject tag names,
the sender's ERP contact or employee, recent automatic replies) + the mailbox's settings -> one
:class:`Decision`: where the e-mail is filed, by which threading method, whether a record is
created or a closed case reopened, which automatic reply (if any) goes out. No I/O here: the
caller gathers :class:`Facts` (see :mod:`shared.mailproc.facts`) and the executor carries the
decision out. Every row of the table is one :class:`Branch`; ``docs/system-mailboxes.md`` states
the same table for admins.

Order (§7): loops and noise first (nothing is filed, nothing is sent), then threading by
(1) In-Reply-To / References naming a message exsync filed or sent, (2) a subject tag
``[<prefix>#<case id>]`` whose prefix is this installation's, (3) the conversationId of a message
filed within 30 days, (4) a new conversation per the settings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from shared.mailproc.model import ClosedCase, IncomingProcessing, NewConversation, UnknownSender

CONVERSATION_WINDOW = timedelta(days=30)
REPLY_INTERVAL = timedelta(hours=1)
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
BULK_PRECEDENCE = ("bulk", "junk", "list")
_TAG = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9]{0,9})\s*#\s*([A-Za-z0-9-]{1,30})\s*\]")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


class Kind(StrEnum):
    """What an ERP e-mail is filed on."""

    CASE = "case"
    LEAD = "lead"
    CONTACT = "contact"
    NONE = "none"       # unassigned: an Email with no related record


class Method(StrEnum):
    """The threading method that matched (recorded on the activity and in the log)."""

    HEADERS = "headers"
    TAG = "tag"
    CONVERSATION = "conversation"
    NEW = "new"
    NONE = "none"       # ignored: no threading tried


class Outcome(StrEnum):
    FILE = "file"               # onto an existing case / lead / contact
    NEW_CASE = "new_case"
    NEW_LEAD = "new_lead"
    NEW_ACTIVITY = "new_activity"  # a contact activity (or unassigned) for a new conversation
    IGNORE_AUTO = "ignore_auto"    # auto-reply, bounce, bulk mail
    IGNORE_LOOP = "ignore_loop"    # from one of our own addresses
    IGNORE_OFF = "ignore_off"      # the mailbox is inactive or its processing is off


class Reply(StrEnum):
    NONE = "none"
    CONFIRM = "confirm"
    UNASSIGNED = "unassigned"


class Branch(StrEnum):
    """Every row of the decision table."""

    OFF = "processing off"
    OWN_ADDRESS = "sender is one of our system addresses"
    BOUNCE = "sender is mailer-daemon / postmaster"
    AUTO_SUBMITTED = "Auto-Submitted other than no"
    SUPPRESS = "X-Auto-Response-Suppress present"
    BULK = "Precedence bulk / junk / list"
    HEADER_MATCH = "In-Reply-To / References name a filed message"
    HEADER_CLOSED_REOPEN = "header match on a closed case: reopen"
    HEADER_CLOSED_NEW = "header match on a closed case: new case"
    TAG_MATCH = "subject tag of this installation names a case"
    TAG_CLOSED_REOPEN = "tag names a closed case: reopen"
    TAG_CLOSED_NEW = "tag names a closed case: new case"
    CONVERSATION_MATCH = "conversation filed within 30 days"
    CONVERSATION_CLOSED_REOPEN = "conversation on a closed case: reopen"
    CONVERSATION_CLOSED_NEW = "conversation on a closed case: new case"
    NEW_CASE_CONTACT = "new conversation: case for the sender's contact"
    NEW_CASE_CREATE_CONTACT = "new conversation, unknown sender: contact created, then the case"
    NEW_CASE_NO_CONTACT = "new conversation, unknown sender: case without contact"
    NEW_CASE_UNKNOWN_LEAD = "new conversation for a case, unknown sender: a lead instead"
    NEW_LEAD = "new conversation: a lead"
    NEW_LEAD_KNOWN_CONTACT = "new conversation for a lead, known contact: contact activity"
    NEW_CONTACT_ACTIVITY = "new conversation: activity of the sender's contact"
    NEW_CONTACT_CREATED = "new conversation, unknown sender: contact created for the activity"
    NEW_CONTACT_UNKNOWN_LEAD = "new conversation for a contact, unknown sender: a lead"
    NEW_UNASSIGNED = "new conversation, unknown sender: unassigned e-mail"


@dataclasses.dataclass(frozen=True, slots=True)
class Thread:
    """Something exsync filed: the record (case / lead / contact) and the ERP Email (parent activity)."""

    kind: Kind
    record_id: str | None          # ERP NoteID of the case, lead or contact
    email_id: str | None = None    # ERP NoteID of the filed Email
    case_id: str | None = None     # the case number (for the tag)
    closed: bool = False
    filed_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """An incoming message as Graph returns it; ``headers`` by lower-case name."""

    internet_message_id: str
    conversation_id: str
    subject: str
    sender: str
    sender_name: str = ""
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    received_at: datetime | None = None

    def referenced_ids(self) -> tuple[str, ...]:
        """Message ids this one answers: In-Reply-To first, then References newest first."""
        ids = _MESSAGE_ID.findall(self.headers.get("in-reply-to", ""))
        ids += list(reversed(_MESSAGE_ID.findall(self.headers.get("references", ""))))
        return tuple(dict.fromkeys(i.lower() for i in ids))

    def tag(self) -> tuple[str, str] | None:
        """``(prefix, case id)`` of the first subject tag, if any."""
        match = _TAG.search(self.subject)
        return (match.group(1), match.group(2)) if match else None


@dataclasses.dataclass(frozen=True, slots=True)
class Facts:
    """What the caller looked up for one message (all optional; absent means unknown)."""

    by_message_id: Mapping[str, Thread] = dataclasses.field(default_factory=dict)  # lower-case ids
    tagged_case: Thread | None = None      # the case the subject tag names (this prefix only)
    by_conversation: Thread | None = None
    sender_contact: str | None = None      # ERP Contact NoteID
    sender_employee: str | None = None     # ERP EmployeeID
    own_addresses: frozenset[str] = frozenset()
    replied_recently: bool = False         # an automatic reply to this sender in this thread < 1 h ago
    now: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    branch: Branch
    outcome: Outcome
    method: Method
    target: Thread | None = None       # FILE: where; NEW_*: None
    kind: Kind = Kind.NONE             # what the e-mail ends up related to
    reopen: bool = False
    create_contact: bool = False
    owner: str | None = None
    reply: Reply = Reply.NONE

    @property
    def files(self) -> bool:
        """The message becomes an ERP Email (every outcome but the ignores)."""
        return self.outcome not in (Outcome.IGNORE_AUTO, Outcome.IGNORE_LOOP, Outcome.IGNORE_OFF)


def _address(text: str) -> str:
    return text.strip().lower()


def noise(message: Message, facts: Facts) -> Branch | None:
    """The loop/noise rule the message trips, if any (§7)."""
    sender = _address(message.sender)
    if sender in facts.own_addresses:
        return Branch.OWN_ADDRESS
    if sender.split("@")[0] in BOUNCE_SENDERS:
        return Branch.BOUNCE
    headers = message.headers
    auto = headers.get("auto-submitted")
    if auto is not None and auto.strip().lower() != "no":
        return Branch.AUTO_SUBMITTED
    if "x-auto-response-suppress" in headers:
        return Branch.SUPPRESS
    if headers.get("precedence", "").strip().lower() in BULK_PRECEDENCE:
        return Branch.BULK
    return None


def _matched(message: Message, facts: Facts, settings: IncomingProcessing) -> tuple[Method, Thread] | None:
    for ident in message.referenced_ids():
        found = facts.by_message_id.get(ident)
        if found is not None:
            return Method.HEADERS, found
    tag = message.tag()
    if tag is not None and tag[0].lower() == settings.tag_prefix.lower() and facts.tagged_case is not None:
        return Method.TAG, facts.tagged_case
    conv = facts.by_conversation
    if conv is not None and (conv.filed_at is None or facts.now is None
                             or facts.now - conv.filed_at <= CONVERSATION_WINDOW):
        return Method.CONVERSATION, conv
    return None


_CLOSED = {
    Method.HEADERS: (Branch.HEADER_MATCH, Branch.HEADER_CLOSED_REOPEN, Branch.HEADER_CLOSED_NEW),
    Method.TAG: (Branch.TAG_MATCH, Branch.TAG_CLOSED_REOPEN, Branch.TAG_CLOSED_NEW),
    Method.CONVERSATION: (Branch.CONVERSATION_MATCH, Branch.CONVERSATION_CLOSED_REOPEN,
                          Branch.CONVERSATION_CLOSED_NEW),
}


def _reply(kind: Reply, settings: IncomingProcessing, facts: Facts) -> Reply:
    """An automatic reply only when configured and none went to this sender in this thread within the hour."""
    template = settings.confirm_receipt if kind is Reply.CONFIRM else settings.reply_to_unassigned
    if kind is Reply.NONE or template is None or facts.replied_recently:
        return Reply.NONE
    return kind


def _new(settings: IncomingProcessing, facts: Facts, owner: str | None) -> Decision:
    known = facts.sender_contact is not None
    unknown = settings.unknown_sender
    confirm = _reply(Reply.CONFIRM, settings, facts)

    def make(branch: Branch, outcome: Outcome, kind: Kind, *, create: bool = False,
             reply: Reply = Reply.NONE) -> Decision:
        return Decision(branch, outcome, Method.NEW, kind=kind, create_contact=create, owner=owner, reply=reply)

    new_lead = make(Branch.NEW_LEAD, Outcome.NEW_LEAD, Kind.LEAD, reply=confirm)
    mode = settings.new_conversation
    if mode is NewConversation.CREATE_CASE:
        if known:
            return make(Branch.NEW_CASE_CONTACT, Outcome.NEW_CASE, Kind.CASE, reply=confirm)
        if unknown is UnknownSender.CONTACT:
            return make(Branch.NEW_CASE_CREATE_CONTACT, Outcome.NEW_CASE, Kind.CASE, create=True, reply=confirm)
        if unknown is UnknownSender.LEAD:
            return dataclasses.replace(new_lead, branch=Branch.NEW_CASE_UNKNOWN_LEAD)
        return make(Branch.NEW_CASE_NO_CONTACT, Outcome.NEW_CASE, Kind.CASE, reply=confirm)
    if mode is NewConversation.CREATE_LEAD:
        if known:
            return make(Branch.NEW_LEAD_KNOWN_CONTACT, Outcome.NEW_ACTIVITY, Kind.CONTACT)
        return new_lead
    if known:
        return make(Branch.NEW_CONTACT_ACTIVITY, Outcome.NEW_ACTIVITY, Kind.CONTACT)
    if unknown is UnknownSender.CONTACT:
        return make(Branch.NEW_CONTACT_CREATED, Outcome.NEW_ACTIVITY, Kind.CONTACT, create=True)
    if unknown is UnknownSender.LEAD:
        return dataclasses.replace(new_lead, branch=Branch.NEW_CONTACT_UNKNOWN_LEAD)
    return make(Branch.NEW_UNASSIGNED, Outcome.NEW_ACTIVITY, Kind.NONE,
                reply=_reply(Reply.UNASSIGNED, settings, facts))


def decide(message: Message, facts: Facts, settings: IncomingProcessing, *, active: bool = True) -> Decision:
    """The one decision for ``message`` (see the module docstring for the order)."""
    if not active or not settings.enabled:
        return Decision(Branch.OFF, Outcome.IGNORE_OFF, Method.NONE)
    trip = noise(message, facts)
    if trip is Branch.OWN_ADDRESS:
        return Decision(trip, Outcome.IGNORE_LOOP, Method.NONE)
    if trip is not None:
        return Decision(trip, Outcome.IGNORE_AUTO, Method.NONE)
    owner = facts.sender_employee if settings.route_employee_mail and facts.sender_employee else \
        settings.default_owner
    matched = _matched(message, facts, settings)
    if matched is None:
        return _new(settings, facts, owner)
    method, thread = matched
    open_branch, reopen_branch, new_branch = _CLOSED[method]
    if thread.kind is Kind.CASE and thread.closed:
        if settings.closed_case is ClosedCase.REOPEN:
            return Decision(reopen_branch, Outcome.FILE, method, thread, Kind.CASE, reopen=True, owner=owner)
        return Decision(new_branch, Outcome.NEW_CASE, method, kind=Kind.CASE, owner=owner,
                        reply=_reply(Reply.CONFIRM, settings, facts))
    return Decision(open_branch, Outcome.FILE, method, thread, thread.kind, owner=owner)
