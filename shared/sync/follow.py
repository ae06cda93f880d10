"""Replies follow a filed conversation: the ERP record a new ERP e-mail of the engine is related to
when the user filed its conversation from the Outlook add-in.

The add-in keeps one filing document per mailbox and conversation (DocumentStore kind
:data:`KIND`, key :func:`filing_key`): the records it was filed to, newest first, and when it was
first filed. Where the engine maps a mailbox e-mail to a new ERP activity
(:func:`shared.sync.execute.erp_create`) it asks :func:`filed_record`; the decision itself is the
pure table :data:`RULES` (first match wins). ``Step.FOLLOW`` relates the activity to the newest
record (a case, an opportunity, a lead or a contact) instead of the sender's contact.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.records import EmailMessage
from shared.ports import DocumentStore, MailboxItem

KIND = "addin_filing"
FOLLOW_DAYS = 30  # a reply more than this long after the filing no longer follows it
TARGET_KINDS = ("contact", "lead", "case", "opportunity")


class Step(StrEnum):
    NOT_FILED = "not_filed"   # no filing for the conversation (or no conversation): the usual contacts
    EARLIER = "earlier"       # sent before the filing: the user filed what they chose, not this
    STALE = "stale"           # sent long after the filing: a new matter, not a follow-up
    FOLLOW = "follow"         # a later message of a filed conversation: onto the filed record


@dataclasses.dataclass(frozen=True, slots=True)
class Filing:
    """The newest record a conversation was filed to, and when it was first filed."""

    kind: str
    record_id: str
    filed_at: datetime


Rule = tuple[Step, Callable[[datetime | None, Filing | None], bool]]

RULES: tuple[Rule, ...] = (
    (Step.NOT_FILED, lambda sent, filing: filing is None),
    # Graph's dates have whole seconds: a reply within the filing's second counts as later.
    (Step.EARLIER, lambda sent, filing: sent is not None and filing is not None
     and sent < filing.filed_at.replace(microsecond=0)),
    (Step.STALE, lambda sent, filing: sent is not None and filing is not None
     and sent > filing.filed_at + timedelta(days=FOLLOW_DAYS)),
    (Step.FOLLOW, lambda sent, filing: True),
)


def decide(sent_at: datetime | None, filing: Filing | None) -> Step:
    for step, holds in RULES:
        if holds(sent_at, filing):
            return step
    raise AssertionError("the last rule always holds")  # pragma: no cover


def filing_key(mailbox: str, conversation_id: str) -> str:
    return hashlib.sha256(f"{mailbox.lower()}\x1f{conversation_id}".encode()).hexdigest()[:40]


def filing_of(doc: Mapping[str, Any] | None) -> Filing | None:
    """The filing a stored document says (None when it names no record the engine can relate to)."""
    targets = (doc or {}).get("targets")
    newest = targets[0] if isinstance(targets, list) and targets and isinstance(targets[0], Mapping) else {}
    kind, record_id = newest.get("kind"), newest.get("id")
    when = (doc or {}).get("filed_at") or newest.get("at")
    if kind not in TARGET_KINDS or not isinstance(record_id, str) or not record_id or not isinstance(when, str):
        return None
    return Filing(str(kind), record_id, datetime.fromisoformat(when))


async def filed_record(store: DocumentStore, mailbox: str, item: MailboxItem[Any]) -> tuple[str, str] | None:
    """(kind, NoteID) the new ERP e-mail for ``item`` follows, or None (the sender's contacts)."""
    if not item.conversation_id or not isinstance(item.record, EmailMessage):
        return None
    stored = await store.get_doc(KIND, filing_key(mailbox, item.conversation_id))
    filing = filing_of(stored.value if stored else None)
    if decide(item.record.sent_at, filing) is not Step.FOLLOW or filing is None:
        return None
    return filing.kind, filing.record_id
