"""The send decision for one ERP e-mail, and how its message is composed. Pure: no I/O.

:func:`decide` takes what the executor looked up (the ERP status, the intent row of an earlier
attempt, whether the stamp is in Sent Items, the switches, the mailbox's quota) and answers one
:class:`Action` with the :class:`Branch` that matched — the rows below, first match wins:

==================  =========================================================================
branch              when → action
==================  =========================================================================
NOT_PENDING         the ERP no longer waits to send it → SKIP (forget the intent)
IN_SENT_ITEMS       an earlier attempt is in Sent Items → CONFIRM (mark processed; no resend)
SUSPENDED           sending is suspended for the server or the mailbox → WAIT (stays queued)
NO_RECIPIENTS       no To/Cc/Bcc → FAIL
TOO_MANY            over 500 recipients a message → FAIL (Exchange would refuse it)
TOO_LARGE           a file above the attachment limit → FAIL (nothing half-sent)
SETTLING            an attempt whose outcome a crash hid, younger than the settle time → WAIT
                    (Sent Items may not show it yet; a resend now could send it twice)
ACCEPTED_PENDING    Graph accepted it (202), not yet in Sent Items, within the grace time → WAIT
ACCEPTED_LOST       accepted, never reached Sent Items within the grace time → FAIL (never resent)
EXHAUSTED           the server's "automatic resend attempts" are used up → FAIL with the last error
BACKOFF             the retry time of the last failed attempt is not reached → WAIT
DAY_QUOTA           the recipients would pass 10,000 in 24 h → WAIT until the window frees them
MINUTE_QUOTA        30 messages in the last minute → WAIT for the next slot
SEND                otherwise → SEND
==================  =========================================================================

:func:`compose` is the second table, the threading and automatic-header rules:

=========  ==================  ===============  ===============================================
automatic  parent Message-ID   received parent  message
=========  ==================  ===============  ===============================================
no         yes                 in the mailbox   createReply on it (Exchange threads it)
no         yes                 not found        MIME with In-Reply-To / References
no         no                  —                JSON (no automatic headers: a person wrote it)
yes        yes                 —                MIME, Auto-Submitted + X-Auto-Response-Suppress,
                                                In-Reply-To / References
yes        no                  —                MIME, Auto-Submitted + X-Auto-Response-Suppress
=========  ==================  ===============  ===============================================

A mail of a case carries the case tag ``[<prefix>#<case id>]`` in its subject (once). "Automatic"
means the ERP generated it from a template: the e-mail has no owning employee.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from enum import StrEnum

from shared.ports import AttachmentContent, OutboundMessage, OutgoingMail

MAX_RECIPIENTS = 500
MINUTE_MESSAGES = 30
DAY_RECIPIENTS = 10_000
SETTLE = timedelta(minutes=2)
ACCEPT_GRACE = timedelta(minutes=15)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
AUTO_HEADERS = (("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All"))


class Action(StrEnum):
    SEND = "send"
    CONFIRM = "confirm"
    WAIT = "wait"
    FAIL = "fail"
    SKIP = "skip"


class Branch(StrEnum):
    NOT_PENDING = "the ERP no longer waits to send it"
    IN_SENT_ITEMS = "an earlier attempt is in Sent Items"
    SUSPENDED = "sending is suspended"
    NO_RECIPIENTS = "no recipients"
    TOO_MANY = "too many recipients for one message"
    TOO_LARGE = "an attachment is over the limit"
    SETTLING = "an interrupted attempt is being confirmed"
    ACCEPTED_PENDING = "accepted, waiting for Sent Items"
    ACCEPTED_LOST = "accepted but never in Sent Items"
    EXHAUSTED = "resend attempts used up"
    BACKOFF = "waiting to retry"
    DAY_QUOTA = "daily recipient quota"
    MINUTE_QUOTA = "message rate"
    SEND = "send"


class Phase(StrEnum):
    """Where an earlier attempt stopped (the intent row)."""

    SENDING = "sending"     # intent written, the send's outcome unknown (a crash or a lost answer)
    ACCEPTED = "accepted"   # Graph answered 202
    FAILED = "failed"       # the send failed with an error; retry after ``next_at``


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """The intent row of a mail: attempts made, where the last one stopped, when and why."""

    phase: Phase
    attempts: int
    at: datetime
    next_at: datetime | None = None
    error: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Usage:
    """A mailbox's sending in the windows Exchange counts, and when each frees up."""

    minute_messages: int
    day_recipients: int
    minute_free_at: datetime | None = None
    day_free_at: datetime | None = None   # when enough recipients leave the 24 h window


@dataclasses.dataclass(frozen=True, slots=True)
class Situation:
    mail: OutgoingMail
    pending: bool
    now: datetime
    usage: Usage
    max_attempts: int = 3
    attempt: Attempt | None = None
    in_sent_items: bool = False
    suspended: bool = False
    largest_file: int = 0
    max_file_bytes: int = 150 * 1024 * 1024

    @property
    def recipients(self) -> int:
        return len(self.mail.to) + len(self.mail.cc) + len(self.mail.bcc)


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    branch: Branch
    reason: str = ""
    until: datetime | None = None


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: 1, 2, 4 … minutes, at most an hour."""
    factor: int = 2 ** max(0, attempts - 1)
    return min(BACKOFF_BASE * factor, BACKOFF_CAP)


def _fail(branch: Branch, reason: str) -> Decision:
    return Decision(Action.FAIL, branch, reason)


def _wait(branch: Branch, until: datetime | None, reason: str = "") -> Decision:
    return Decision(Action.WAIT, branch, reason or branch.value, until)


def _checks(s: Situation) -> Decision | None:
    """The rows that fail a mail for what it is (recipients, files)."""
    if s.recipients == 0:
        return _fail(Branch.NO_RECIPIENTS, "the e-mail has no recipients (To, Cc or Bcc)")
    if s.recipients > MAX_RECIPIENTS:
        return _fail(Branch.TOO_MANY, f"the e-mail has {s.recipients} recipients; Exchange Online sends at most "
                                      f"{MAX_RECIPIENTS} a message: split it")
    if s.largest_file > s.max_file_bytes:
        return _fail(Branch.TOO_LARGE, f"an attachment is {s.largest_file / 1048576:.1f} MB; the limit is "
                                       f"{s.max_file_bytes / 1048576:.0f} MB")
    return None


def _earlier(s: Situation, attempt: Attempt) -> Decision | None:
    """The rows about an earlier attempt that is not in Sent Items."""
    if attempt.phase is Phase.SENDING and s.now < attempt.at + SETTLE:
        return _wait(Branch.SETTLING, attempt.at + SETTLE)
    if attempt.phase is Phase.ACCEPTED:
        if s.now < attempt.at + ACCEPT_GRACE:
            return _wait(Branch.ACCEPTED_PENDING, attempt.at + ACCEPT_GRACE)
        return _fail(Branch.ACCEPTED_LOST, "Exchange accepted the message but it never reached Sent Items; "
                                           "check the mailbox's Outbox before sending it again")
    if attempt.attempts >= s.max_attempts:
        last = f": {attempt.error}" if attempt.error else ""
        return _fail(Branch.EXHAUSTED, f"not sent after {attempt.attempts} attempts{last}")
    if attempt.next_at is not None and s.now < attempt.next_at:
        return _wait(Branch.BACKOFF, attempt.next_at)
    return None


def decide(s: Situation) -> Decision:
    """What to do with one mail now (see the module docstring for the table)."""
    if not s.pending:
        return Decision(Action.SKIP, Branch.NOT_PENDING)
    if s.in_sent_items:
        return Decision(Action.CONFIRM, Branch.IN_SENT_ITEMS)
    if s.suspended:
        return _wait(Branch.SUSPENDED, None)
    failed = _checks(s)
    if failed is not None:
        return failed
    if s.attempt is not None:
        earlier = _earlier(s, s.attempt)
        if earlier is not None:
            return earlier
    if s.usage.day_recipients + s.recipients > DAY_RECIPIENTS:
        return _wait(Branch.DAY_QUOTA, s.usage.day_free_at)
    if s.usage.minute_messages >= MINUTE_MESSAGES:
        return _wait(Branch.MINUTE_QUOTA, s.usage.minute_free_at)
    return Decision(Action.SEND, Branch.SEND)


# ---------------------------------------------------------------- composing the message


class Mode(StrEnum):
    REPLY = "reply"   # createReply on the received message
    MIME = "mime"     # every header is ours
    JSON = "json"     # only X- headers


@dataclasses.dataclass(frozen=True, slots=True)
class Thread:
    """What the executor found about the e-mail's parent and case."""

    parent_message_id: str | None = None   # internetMessageId of the incoming parent e-mail
    parent_references: str = ""
    received_id: str | None = None         # its Graph id in this mailbox
    case_number: str | None = None
    tag_prefix: str = "EXS"


def mode_of(automatic: bool, thread: Thread) -> Mode:
    if automatic:
        return Mode.MIME
    if thread.parent_message_id and thread.received_id:
        return Mode.REPLY
    return Mode.MIME if thread.parent_message_id else Mode.JSON


def tagged(subject: str, thread: Thread) -> str:
    """``subject`` with the case tag, unless it already carries it."""
    if not thread.case_number:
        return subject
    tag = f"[{thread.tag_prefix}#{thread.case_number}]"
    return subject if tag.lower() in subject.lower() else f"{subject} {tag}".strip()


def compose(mail: OutgoingMail, thread: Thread, files: tuple[AttachmentContent, ...] = ()) -> OutboundMessage:
    """The message to send for ``mail`` (the second table of the module docstring)."""
    automatic = mail.owner is None
    mode = mode_of(automatic, thread)
    headers: list[tuple[str, str]] = list(AUTO_HEADERS) if automatic else []
    if mode is Mode.MIME and thread.parent_message_id:
        references = " ".join(filter(None, [thread.parent_references, thread.parent_message_id]))
        headers += [("In-Reply-To", thread.parent_message_id), ("References", references)]
    return OutboundMessage(stamp=mail.id, subject=tagged(mail.subject, thread), body=mail.body, to=mail.to,
                           cc=mail.cc, bcc=mail.bcc, reply_to=thread.received_id if mode is Mode.REPLY else None,
                           mime=mode is Mode.MIME, headers=tuple(headers), files=files)
