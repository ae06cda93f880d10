"""Processing of one system mailbox's incoming messages: gather facts, decide, execute exactly once.

:meth:`Processor.decide` reads only (thread map, ERP look-ups) and returns the pure decision of
:mod:`shared.mailproc.decide`; the dry run stops there. :meth:`Processor.process` carries it out:

1. skip a message already stamped or already in the thread map (replays, a second delta); one in the
   thread map whose intent is still there was filed before a crash: only its bookkeeping is redone;
2. write an intent (create-only) before any ERP write; an intent that is already there means a
   crash or another worker: every create then first looks for its origin key in the ERP;
3. create the contact / case / lead, file the ERP Email (with allowed attachments, the threading
   method in its note), reopen a closed case when the settings say so;
4. record the thread (message id and conversation), reply automatically (at most once per sender
   per thread per hour; recorded *before* sending, so a crash loses a confirmation rather than
   sending two), stamp the message in the mailbox, run the after-processing action, drop the intent.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from shared.mailproc import replies
from shared.mailproc.decide import (
    REPLY_INTERVAL,
    Decision,
    Facts,
    Kind,
    Message,
    Method,
    Outcome,
    Reply,
    Thread,
    decide,
)
from shared.mailproc.model import SystemMailbox
from shared.ports import AttachmentContent, Clock, CrmGateway, CrmRecord, InboundEmail, InboxMessage, SystemMailGateway
from shared.state.threads import ThreadMap

logger = logging.getLogger(__name__)

STAMP_IGNORED = "exsync:ignored"
MAX_REFERENCES = 10


def thread_json(thread: Thread) -> dict[str, Any]:
    return {"kind": thread.kind.value, "record_id": thread.record_id, "email_id": thread.email_id,
            "case_id": thread.case_id, "closed": thread.closed,
            "filed_at": thread.filed_at.isoformat() if thread.filed_at else None}


def thread_of(value: dict[str, Any] | None) -> Thread | None:
    if not value:
        return None
    filed = value.get("filed_at")
    return Thread(Kind(value["kind"]), value.get("record_id"), value.get("email_id"), value.get("case_id"),
                  bool(value.get("closed")), datetime.fromisoformat(filed) if filed else None)


def as_message(item: InboxMessage) -> Message:
    return Message(item.internet_message_id, item.conversation_id, item.subject, item.sender, item.sender_name,
                   item.headers, item.received_at)


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """What processing did with one message (the dry run returns these without the ids)."""

    message_id: str
    subject: str
    sender: str
    decision: Decision
    skipped: bool = False            # already processed before
    email_id: str | None = None      # the ERP Email filed
    record: CrmRecord | None = None  # the case / lead / contact it is filed on
    replied: bool = False

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        target = d.target
        return {"message_id": self.message_id, "subject": self.subject, "sender": self.sender,
                "branch": d.branch.name.lower(), "outcome": d.outcome.value, "method": d.method.value,
                "kind": d.kind.value, "target": thread_json(target) if target else None, "reopen": d.reopen,
                "create_contact": d.create_contact, "reply": d.reply.value, "skipped": self.skipped,
                "email_id": self.email_id, "record": dataclasses.asdict(self.record) if self.record else None,
                "replied": self.replied}


@dataclasses.dataclass
class Processor:
    """One system mailbox's processing, on its ports (Graph, the ERP, the thread map)."""

    mailbox: SystemMailbox
    mail: SystemMailGateway
    crm: CrmGateway
    threads: ThreadMap
    clock: Clock
    own_addresses: frozenset[str] = frozenset()

    @property
    def address(self) -> str:
        return self.mailbox.address

    # ------------------------------------------------------------ facts and decision

    async def _by_message_id(self, message: Message) -> dict[str, Thread]:
        found: dict[str, Thread] = {}
        for ident in message.referenced_ids()[:MAX_REFERENCES]:
            doc = await self.threads.message(self.address, ident)
            thread = thread_of((doc or {}).get("thread"))
            if thread is not None:
                found[ident] = thread
                break  # the first (most recent) known one is the match
        return found

    async def _tagged(self, message: Message) -> Thread | None:
        tag = message.tag()
        if tag is None or tag[0].lower() != self.mailbox.incoming.tag_prefix.lower():
            return None
        case = await self.crm.find_case(tag[1])
        return Thread(Kind.CASE, case.id, None, case.number, case.closed) if case else None

    async def _current(self, thread: Thread | None) -> Thread | None:
        """A matched case with its status as the ERP has it now (closed or open)."""
        if thread is None or thread.kind is not Kind.CASE or not thread.record_id:
            return thread
        case = await self.crm.get_record("case", thread.record_id)
        return dataclasses.replace(thread, closed=case.closed) if case else None

    async def facts(self, item: InboxMessage) -> tuple[Facts, CrmRecord | None]:
        message = as_message(item)
        now = self.clock.now()
        last = await self.threads.last_reply(self.address, item.sender, item.conversation_id)
        facts = Facts(by_message_id=await self._by_message_id(message), tagged_case=await self._tagged(message),
                      by_conversation=thread_of(await self.threads.conversation(self.address, item.conversation_id)),
                      own_addresses=self.own_addresses, now=now,
                      replied_recently=last is not None and now - last < REPLY_INTERVAL)
        first = decide(message, facts, self.mailbox.incoming, active=self.mailbox.active)
        if first.target is not None and first.target.kind is Kind.CASE:
            current = await self._current(first.target)
            facts = _with_target(facts, first.target, current)
        contact = None
        settings = self.mailbox.incoming
        if first.files and (first.method is Method.NEW or first.outcome is Outcome.NEW_CASE):
            contact = await self.crm.find_contact(item.sender)
        employee = await self.crm.find_employee(item.sender) if settings.route_employee_mail and first.files \
            else None
        facts = dataclasses.replace(facts, sender_contact=contact.id if contact else None, sender_employee=employee)
        return facts, contact

    async def decide(self, item: InboxMessage) -> tuple[Decision, CrmRecord | None]:
        facts, contact = await self.facts(item)
        return decide(as_message(item), facts, self.mailbox.incoming, active=self.mailbox.active), contact

    async def dry_run(self, item: InboxMessage) -> Result:
        decision, _ = await self.decide(item)
        return Result(item.internet_message_id, item.subject, item.sender, decision,
                      skipped=await self._done(item))

    # ------------------------------------------------------------ execution

    async def _done(self, item: InboxMessage) -> bool:
        if item.stamp:
            return True
        return await self.threads.message(self.address, item.internet_message_id) is not None

    async def process(self, item: InboxMessage) -> Result:
        recorded = None if item.stamp else await self.threads.message(self.address, item.internet_message_id)
        if item.stamp or recorded is not None:
            decision = decide(as_message(item), Facts(own_addresses=self.own_addresses), self.mailbox.incoming)
            thread = thread_of((recorded or {}).get("thread"))
            if thread is not None and await self.threads.intent(self.address, item.internet_message_id):
                await self._finish(item, thread)  # filed, but a crash came before the stamp
            return Result(item.internet_message_id, item.subject, item.sender, decision, skipped=True)
        decision, contact = await self.decide(item)
        if not decision.files:
            await self.threads.record(self.address, item.internet_message_id,
                                      {"thread": None, "branch": decision.branch.name, "method": decision.method})
            await self.mail.stamp(self.address, item.id, STAMP_IGNORED)
            logger.info("system mailbox message ignored: %s", decision.branch.value)
            return Result(item.internet_message_id, item.subject, item.sender, decision)
        return await self._file(item, decision, contact)

    async def _file(self, item: InboxMessage, decision: Decision, contact: CrmRecord | None) -> Result:
        origin = f"mailproc|{self.address}|{item.internet_message_id}"
        resume = await self.threads.begin(self.address, item.internet_message_id,
                                          {"origin": origin, "at": self.clock.now().isoformat()}) is not None
        writer = _Writer(self.crm, origin, resume)
        settings = self.mailbox.incoming
        owner, workgroup = decision.owner, settings.default_workgroup
        if decision.create_contact:
            contact = await writer.contact(item, owner)
        record: CrmRecord | None = None
        if decision.outcome is Outcome.FILE and decision.target is not None:
            target = decision.target
            record = CrmRecord(target.kind.value, target.record_id or "", target.case_id or "")
            if decision.reopen and target.record_id:
                await self.crm.reopen_case(target.record_id)
        elif decision.outcome is Outcome.NEW_CASE:
            record = await writer.case(item, settings.case_class or "", contact, owner, workgroup)
        elif decision.outcome is Outcome.NEW_LEAD:
            record = await writer.lead(item, settings.lead_class, owner, workgroup)
        elif decision.kind is Kind.CONTACT:
            record = contact
        files = await self._attachments(item)
        related = (record.kind, record.id) if record is not None and record.id else None
        email_id = await writer.email(InboundEmail(
            subject=item.subject, body=item.body, from_address=item.sender, to=item.to, cc=item.cc,
            sent_at=item.received_at, internet_message_id=item.internet_message_id, origin=origin,
            method=decision.method.value, related=related, owner=owner, workgroup=workgroup, files=files))
        case_id = record.number if record is not None and record.kind == "case" else None
        thread = Thread(Kind(record.kind) if record is not None else Kind.NONE, record.id if record else None,
                        email_id, case_id, False, self.clock.now())
        await self.threads.record(self.address, item.internet_message_id,
                                  {"thread": thread_json(thread), "branch": decision.branch.name,
                                   "method": decision.method.value}, item.conversation_id, thread_json(thread))
        replied = await self._reply(item, decision, thread)
        await self._finish(item, thread)
        logger.info("system mailbox message filed on a %s by %s (%s)", thread.kind.value, decision.method.value,
                    decision.branch.name.lower())
        return Result(item.internet_message_id, item.subject, item.sender, decision, email_id=email_id,
                      record=record, replied=replied)

    async def _finish(self, item: InboxMessage, thread: Thread) -> None:
        """The bookkeeping after the ERP write: stamp, after-processing action, intent dropped."""
        settings = self.mailbox.incoming
        await self.mail.stamp(self.address, item.id, thread.email_id or STAMP_IGNORED)
        await self.mail.after_processing(self.address, item.id, settings.after_processing.value,
                                         settings.move_to_folder)
        await self.threads.finish(self.address, item.internet_message_id)

    async def _attachments(self, item: InboxMessage) -> tuple[AttachmentContent, ...]:
        if not item.has_attachments:
            return ()
        settings = self.mailbox.incoming
        found = await self.mail.read_attachments(self.address, item.id, settings.max_attachment_kb * 1024)
        allowed = settings.allowed_attachment_types
        return tuple(f for f in found if not allowed or f.meta.name.rsplit(".", 1)[-1].lower() in allowed)

    async def _reply(self, item: InboxMessage, decision: Decision, thread: Thread) -> bool:
        settings = self.mailbox.incoming
        template = settings.confirm_receipt if decision.reply is Reply.CONFIRM else \
            settings.reply_to_unassigned if decision.reply is Reply.UNASSIGNED else None
        if template is None:
            return False
        now = self.clock.now()
        await self.threads.replied(self.address, item.sender, item.conversation_id, now)
        message_id = replies.new_message_id(self.address)
        await self.threads.record(self.address, message_id, {"thread": thread_json(thread), "branch": "SENT",
                                                             "method": "sent"})
        mime = replies.build(item, template, mailbox=self.address, display_name=self.mailbox.display_name,
                             prefix=settings.tag_prefix, case_id=thread.case_id, message_id=message_id, now=now,
                             reply_to=settings.reply_address if decision.reply is Reply.UNASSIGNED else None)
        await self.mail.send_mime(self.address, mime)
        return True


def _with_target(facts: Facts, old: Thread, current: Thread | None) -> Facts:
    """``facts`` with a matched case replaced by its current state (or dropped when it is gone)."""
    by_id = {k: v for k, v in facts.by_message_id.items() if v != old}
    if current is not None:
        by_id.update({k: current for k, v in facts.by_message_id.items() if v == old})
    return dataclasses.replace(
        facts, by_message_id=by_id,
        tagged_case=current if facts.tagged_case == old else facts.tagged_case,
        by_conversation=current if facts.by_conversation == old else facts.by_conversation)


@dataclasses.dataclass
class _Writer:
    """Creates in the ERP under one origin key; after a crash (``resume``) it finds before it creates."""

    crm: CrmGateway
    origin: str
    resume: bool

    async def _found(self, kind: str, suffix: str) -> CrmRecord | None:
        return await self.crm.find_by_origin(kind, self.origin + suffix) if self.resume else None

    async def contact(self, item: InboxMessage, owner: str | None) -> CrmRecord:
        found = await self._found("contact", "|contact") or await self.crm.find_contact(item.sender)
        return found or await self.crm.create_contact(item.sender, item.sender_name, origin=self.origin + "|contact",
                                                      owner=owner)

    async def case(self, item: InboxMessage, case_class: str, contact: CrmRecord | None, owner: str | None,
                   workgroup: str | None) -> CrmRecord:
        return await self._found("case", "|case") or await self.crm.create_case(
            subject=item.subject, description=item.body, case_class=case_class, contact=contact, owner=owner,
            workgroup=workgroup, origin=self.origin + "|case")

    async def lead(self, item: InboxMessage, lead_class: str | None, owner: str | None,
                   workgroup: str | None) -> CrmRecord:
        return await self._found("lead", "|lead") or await self.crm.create_lead(
            email=item.sender, name=item.sender_name, lead_class=lead_class, owner=owner, workgroup=workgroup,
            origin=self.origin + "|lead")

    async def email(self, email: InboundEmail) -> str:
        found = await self._found("email", "")
        return found.id if found else await self.crm.create_email(email)
