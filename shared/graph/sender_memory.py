"""In-memory twin of :class:`shared.graph.sender.GraphMailSender` (same contract suite, ``tests/contract``).

Per mailbox: Sent Items (stamp -> messages, in order), drafts left by a failed send, and received
messages by internetMessageId. Exchange's sending limits are enforced like the Graph simulator's
(:mod:`sim.graph.sending`) with the twin's ``clock``. Faults for the exactly-once tests:
``fail_before_send`` raises before anything is sent (a draft is left); ``lose_answer`` sends and then
raises (the 202 never reached exsync).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.errors import RemoteError, Throttled, ValidationFailed
from shared.ports import OutboundMessage


@dataclasses.dataclass
class Sent:
    id: str
    message: OutboundMessage
    at: datetime


class InMemoryMailSender:
    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sent: dict[str, list[Sent]] = {}
        self.drafts: dict[str, list[OutboundMessage]] = {}
        self.received: dict[str, dict[str, str]] = {}
        self.fail_before_send = 0
        self.lose_answer = 0
        self.refusals = 0
        self._ids = itertools.count(1)

    def receive(self, mailbox: str, internet_message_id: str) -> str:
        """A customer's message in the mailbox; its Graph id."""
        ident = f"in-{next(self._ids)}"
        self.received.setdefault(mailbox.lower(), {})[internet_message_id] = ident
        return ident

    def messages(self, mailbox: str) -> list[Sent]:
        return self.sent.get(mailbox.lower(), [])

    def _check_limits(self, mailbox: str, message: OutboundMessage) -> None:
        recipients = len(message.to) + len(message.cc) + len(message.bcc)
        if recipients > 500:
            self.refusals += 1
            raise ValidationFailed({"recipients": f"{recipients} recipients; Exchange allows 500 a message"})
        now = self.clock()
        history = self.messages(mailbox)
        if sum(1 for s in history if s.at > now - timedelta(minutes=1)) >= 30:
            self.refusals += 1
            raise Throttled("ErrorExceededMessageLimit: 30 messages a minute", retry_after=60.0)

    async def send(self, mailbox: str, message: OutboundMessage) -> None:
        if message.reply_to and message.reply_to not in self.received.get(mailbox.lower(), {}).values():
            raise ValidationFailed({"reply_to": f"no received message {message.reply_to} in {mailbox}"})
        if self.fail_before_send:
            self.fail_before_send -= 1
            self.drafts.setdefault(mailbox.lower(), []).append(message)
            raise RemoteError("injected failure before the send")
        self._check_limits(mailbox, message)
        self.sent.setdefault(mailbox.lower(), []).append(Sent(f"sent-{next(self._ids)}", message, self.clock()))
        if self.lose_answer:
            self.lose_answer -= 1
            raise RemoteError("injected loss of the send's answer")

    async def find_sent(self, mailbox: str, stamp: str) -> str | None:
        return next((s.id for s in self.messages(mailbox) if s.message.stamp == stamp), None)

    async def discard_drafts(self, mailbox: str, stamp: str) -> int:
        drafts = self.drafts.get(mailbox.lower(), [])
        kept = [d for d in drafts if d.stamp != stamp]
        self.drafts[mailbox.lower()] = kept
        return len(drafts) - len(kept)

    async def find_received(self, mailbox: str, internet_message_id: str) -> str | None:
        return self.received.get(mailbox.lower(), {}).get(internet_message_id)
