"""Replies follow a filed conversation: which messages of a conversation the add-in files to the
record the user filed the conversation to.

A pure decision per message (:data:`RULES`, first match wins); the executor is
:func:`shared.admin.addin.follow_filed_conversations`, run by a timer every ten minutes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from datetime import datetime
from enum import StrEnum


class Step(StrEnum):
    FILE = "file"
    KNOWN = "known"
    DRAFT = "draft"
    EARLIER = "earlier"


@dataclasses.dataclass(frozen=True)
class ConversationMessage:
    id: str
    internet_message_id: str
    received_at: datetime | None
    is_draft: bool


Rule = tuple[Step, Callable[[ConversationMessage, Collection[str], datetime], bool]]

RULES: tuple[Rule, ...] = (
    # Filed already (by the user or an earlier run): filing again would find the same Email anyway.
    (Step.KNOWN, lambda m, known, _: m.internet_message_id in known or m.id in known),
    # Not sent yet: the user may still change or discard it; it follows once it is sent.
    (Step.DRAFT, lambda m, _, __: m.is_draft),
    # Older than the filing: the user saw the conversation and filed only what they chose. Graph's
    # receivedDateTime has whole seconds: a reply within the filing's second counts as later.
    (Step.EARLIER, lambda m, _, filed_at: m.received_at is not None
     and m.received_at < filed_at.replace(microsecond=0)),
    # A later reply: it follows the conversation onto the record.
    (Step.FILE, lambda _, __, ___: True),
)


def decide(message: ConversationMessage, known: Collection[str], filed_at: datetime) -> Step:
    for step, holds in RULES:
        if holds(message, known, filed_at):
            return step
    raise AssertionError("the last rule always holds")  # pragma: no cover
