"""The executor of transactional mail: one run of one system mailbox, through the ports.

For each e-mail the ERP queued for the mailbox's account (oldest first) it gathers the facts —
the intent row of an earlier attempt, whether that attempt is in Sent Items, the switches, the
quota — asks :func:`shared.mailsend.decide.decide`, and carries the answer out:

- SEND: re-read the e-mail in the ERP (another sender may have taken it), write the intent row
  (conditional: a second worker loses here), send the stamped message, count it in the quota,
  then wait for it in Sent Items; only then is the ERP e-mail marked processed.
- CONFIRM: an earlier attempt is in Sent Items: mark processed, never send again.
- FAIL: drafts of earlier attempts are deleted, the ERP e-mail marked failed with the reason.
- WAIT: the e-mail stays queued. The message rate waits inside the run while its time budget
  lasts (the run paces itself at 30 a minute); the day's quota and a suspension end the mailbox's
  run, everything after it stays queued too.

An ERP write that fails after a send ends the run (like a crash): the intent row says "accepted",
and the next run finds the message in Sent Items and marks the e-mail processed without resending.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from shared.errors import ExsyncError, RemoteError, Throttled, ValidationFailed
from shared.mailproc.model import SystemMailbox
from shared.mailsend import metrics
from shared.mailsend.decide import (
    SETTLE,
    Action,
    Attempt,
    Branch,
    Decision,
    Phase,
    Situation,
    Thread,
    backoff,
    compose,
    decide,
)
from shared.mailsend.ledger import Ledger
from shared.mailsend.quota import Quota, status
from shared.ports import (
    AttachmentContent,
    Clock,
    CrmGateway,
    DocumentStore,
    MailSender,
    OutboxGateway,
    OutgoingMail,
)

logger = logging.getLogger(__name__)

PENDING = "Pending Processing"
STOPS_MAILBOX = (Branch.SUSPENDED, Branch.DAY_QUOTA, Branch.MINUTE_QUOTA)
PACE_MARGIN = timedelta(milliseconds=500)  # wake a little after the slot frees (sleep may return early)


@dataclasses.dataclass(frozen=True, slots=True)
class MailPorts:
    outbox: OutboxGateway
    sender: MailSender
    docs: DocumentStore
    clock: Clock
    crm: CrmGateway | None = None          # case numbers for the subject tag
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclasses.dataclass(frozen=True, slots=True)
class SendSettings:
    max_attempts: int = 3                  # the server's "automatic resend attempts"
    max_file_bytes: int = 150 * 1024 * 1024
    budget: timedelta = timedelta(minutes=8)
    page: int = 200
    confirm_polls: int = 3
    confirm_wait: timedelta = timedelta(seconds=2)


@dataclasses.dataclass
class Report:
    """What one run did for one system mailbox."""

    mailbox: str
    outcomes: Counter[str] = dataclasses.field(default_factory=Counter)   # action -> mails
    branches: Counter[str] = dataclasses.field(default_factory=Counter)   # branch name -> mails
    stopped: str | None = None
    paced: int = 0                                                        # waits for a send slot
    quota: dict[str, Any] = dataclasses.field(default_factory=dict)


Suspended = Callable[[], Awaitable[bool]]


class MailboxRun:
    """One run of one system mailbox (see the module docstring)."""

    def __init__(self, ports: MailPorts, system: SystemMailbox, settings: SendSettings,
                 suspended: Suspended) -> None:
        self.ports = ports
        self.system = system
        self.mailbox = system.address
        self.settings = settings
        self.suspended = suspended
        self.ledger = Ledger(ports.docs)
        self.quota = Quota()
        self.report = Report(self.mailbox)
        self.deadline = ports.clock.now() + settings.budget

    async def run(self) -> Report:
        account = self.system.sending.erp_account_id
        if account is None:
            self.report.stopped = "no ERP e-mail account is set for this mailbox"
            return self.report
        self.quota = await self.ledger.quota(self.mailbox)
        mails = await self.ports.outbox.pending(account, self.settings.page)
        for index, mail in enumerate(mails):
            decision = await self._paced(mail)
            self._count(decision)
            if decision.action is Action.WAIT and decision.branch in STOPS_MAILBOX:
                self.report.stopped = decision.reason
                self.report.outcomes["queued"] += len(mails) - index - 1
                break
        await self._save_status(len(mails))
        return self.report

    def _count(self, decision: Decision) -> None:
        self.report.outcomes[decision.action.value] += 1
        self.report.branches[decision.branch.name] += 1
        outcome = {Action.CONFIRM: "sent", Action.FAIL: "failed", Action.WAIT: "waiting"}.get(decision.action)
        if outcome:
            metrics.count(outcome, self.mailbox, decision.branch.name)

    async def _paced(self, mail: OutgoingMail) -> Decision:
        """The mail's decision, waiting inside the run for the next send slot while the budget lasts."""
        while True:
            decision = await self._one(mail)
            until = decision.until
            now = self.ports.clock.now()
            if decision.branch is not Branch.MINUTE_QUOTA or until is None or until + PACE_MARGIN > self.deadline:
                return decision
            self.report.paced += 1
            await self.ports.sleep(max(0.0, (until + PACE_MARGIN - now).total_seconds()))

    async def _situation(self, mail: OutgoingMail) -> tuple[Situation, str | None]:
        attempt, etag = await self.ledger.attempt(self.mailbox, mail.id)
        in_sent = attempt is not None and await self.ports.sender.find_sent(self.mailbox, mail.id) is not None
        now = self.ports.clock.now()
        recipients = len(mail.to) + len(mail.cc) + len(mail.bcc)
        return Situation(mail=mail, pending=True, now=now, usage=self.quota.usage(now, recipients),
                         max_attempts=self.settings.max_attempts, attempt=attempt, in_sent_items=in_sent,
                         suspended=await self.suspended(), max_file_bytes=self.settings.max_file_bytes), etag

    async def _one(self, mail: OutgoingMail) -> Decision:
        situation, etag = await self._situation(mail)
        decision = decide(situation)
        files: tuple[AttachmentContent, ...] = ()
        if decision.action is Action.SEND:
            current = await self.ports.outbox.get_outgoing(mail.id)
            if current is None or current.status != PENDING:
                decision = decide(dataclasses.replace(situation, pending=False))
            else:
                files = await self.ports.outbox.read_files(mail.id)
                largest = max((len(f.content) for f in files), default=0)
                decision = decide(dataclasses.replace(situation, mail=current, largest_file=largest))
        if decision.action is Action.SEND:
            return await self._send(situation.mail, situation.attempt, etag, files)
        if decision.action is Action.CONFIRM:
            await self._processed(mail)
        elif decision.action is Action.FAIL:
            await self._failed(mail, decision.reason)
        elif decision.action is Action.SKIP and situation.attempt is not None:
            await self.ledger.forget(self.mailbox, mail.id)
        return decision

    async def _thread(self, mail: OutgoingMail) -> Thread:
        parent = await self.ports.outbox.parent_message_id(mail.parent_id) if mail.parent_id else None
        received = None
        if parent and mail.owner is not None:  # a person's answer goes out as a reply to the original
            received = await self.ports.sender.find_received(self.mailbox, parent)
        number = None
        if mail.related and mail.related[0] == "case" and self.ports.crm is not None:
            case = await self.ports.crm.get_record("case", mail.related[1])
            number = case.number if case else None
        return Thread(parent_message_id=parent, received_id=received, case_number=number,
                      tag_prefix=self.system.incoming.tag_prefix)

    async def _send(self, mail: OutgoingMail, earlier: Attempt | None, etag: str | None,
                    files: tuple[AttachmentContent, ...]) -> Decision:
        number = (earlier.attempts if earlier else 0) + 1
        if earlier is not None:
            await self.ports.sender.discard_drafts(self.mailbox, mail.id)
        now = self.ports.clock.now()
        etag = await self.ledger.write(self.mailbox, mail.id, Attempt(Phase.SENDING, number, now), etag)
        if etag is None:
            return Decision(Action.SKIP, Branch.NOT_PENDING, "another worker is sending it")
        message = compose(mail, await self._thread(mail), files)
        try:
            await self.ports.sender.send(self.mailbox, message)
        except ExsyncError as exc:
            return await self._send_failed(mail, number, etag, exc)
        self.quota.record(self.ports.clock.now(), len(mail.to) + len(mail.cc) + len(mail.bcc))
        await self.ledger.save_quota(self.mailbox, self.quota)
        await self.ledger.write(self.mailbox, mail.id, Attempt(Phase.ACCEPTED, number, self.ports.clock.now()), etag)
        for poll in range(self.settings.confirm_polls):
            if await self.ports.sender.find_sent(self.mailbox, mail.id) is not None:
                await self._processed(mail)
                return Decision(Action.CONFIRM, Branch.SEND)
            if poll + 1 < self.settings.confirm_polls:
                await self.ports.sleep(self.settings.confirm_wait.total_seconds())
        return Decision(Action.WAIT, Branch.ACCEPTED_PENDING, Branch.ACCEPTED_PENDING.value)

    async def _send_failed(self, mail: OutgoingMail, number: int, etag: str, exc: ExsyncError) -> Decision:
        now = self.ports.clock.now()
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, Throttled):  # Exchange's limit despite the pacing: not an attempt, just wait
            until = now + timedelta(seconds=exc.retry_after or 60)
            await self.ledger.write(self.mailbox, mail.id, Attempt(Phase.FAILED, number - 1, now, until, reason), etag)
            return Decision(Action.WAIT, Branch.MINUTE_QUOTA, "Exchange throttled the send", until)
        if isinstance(exc, ValidationFailed) or (isinstance(exc, RemoteError) and exc.status is not None
                                                  and 400 <= exc.status < 500):
            await self._failed(mail, f"Exchange refused the message: {exc}")
            return Decision(Action.FAIL, Branch.SEND, str(exc))
        # 5xx, a timeout, a lost answer: the message may be out; look in Sent Items before any retry
        retry = now + max(backoff(number), SETTLE)
        await self.ledger.write(self.mailbox, mail.id, Attempt(Phase.SENDING, number, now, retry, reason), etag)
        logger.info("sending %s from %s failed (attempt %d): %s", mail.id, self.mailbox, number, type(exc).__name__)
        return Decision(Action.WAIT, Branch.BACKOFF, reason, retry)

    async def _processed(self, mail: OutgoingMail) -> None:
        await self.ports.outbox.mark_processed(mail.id)
        await self.ledger.forget(self.mailbox, mail.id)

    async def _failed(self, mail: OutgoingMail, reason: str) -> None:
        await self.ports.sender.discard_drafts(self.mailbox, mail.id)
        await self.ports.outbox.mark_failed(mail.id, reason)
        await self.ledger.forget(self.mailbox, mail.id)
        logger.warning("an ERP e-mail of %s failed: %s", self.mailbox, reason.split(":")[0])

    async def _save_status(self, listed: int) -> None:
        now = self.ports.clock.now()
        shown = status(self.quota.usage(now))
        self.report.quota = shown
        metrics.quota(self.mailbox, shown["day_share"], shown["warning"] is not None)
        if shown["warning"]:
            logger.warning("system mailbox %s: %s", self.mailbox, shown["warning"])
        await self.ledger.save_status(self.mailbox, {
            "updated_at": now.isoformat(), "listed": listed, "outcomes": dict(self.report.outcomes),
            "stopped": self.report.stopped, **shown})


async def send_mailbox(ports: MailPorts, system: SystemMailbox, settings: SendSettings,
                       suspended: Suspended) -> Report:
    """One run of one system mailbox; ``suspended`` is asked before every mail."""
    return await MailboxRun(ports, system, settings, suspended).run()
