"""Table-driven tests of the system-mailbox decision: one case per branch, and every branch covered."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.mailproc.decide import (
    Branch,
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
from shared.mailproc.model import IncomingProcessing, Template

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CONFIRM = Template(body="We got {subject} as case {case_id}, {sender_name}.")
CASE = Thread(Kind.CASE, "case-note", "mail-note", "000042", filed_at=NOW - timedelta(days=1))
CLOSED = dataclasses.replace(CASE, closed=True)
LEAD = Thread(Kind.LEAD, "lead-note", "lead-mail", filed_at=NOW - timedelta(days=2))
OURS = frozenset({"support@contoso.test", "sales@contoso.test"})


def msg(subject: str = "Printer broken", sender: str = "carol@customer.test",
        headers: Mapping[str, str] | None = None) -> Message:
    return Message("<m1@customer.test>", "conv-1", subject, sender, "Carol", dict(headers or {}), NOW)


def settings(**kw: Any) -> IncomingProcessing:
    return IncomingProcessing(**{"case_class": "SUPPORT", "tag_prefix": "SUP", "confirm_receipt": CONFIRM, **kw})


def facts(**kw: Any) -> Facts:
    return Facts(own_addresses=OURS, now=NOW, **kw)


KNOWN = {"sender_contact": "contact-note"}
REPLY_HEADERS = {"in-reply-to": "<ours-1@contoso.test>"}


@dataclasses.dataclass(frozen=True)
class Row:
    branch: Branch
    message: Message
    facts: Facts
    settings: IncomingProcessing
    outcome: Outcome
    method: Method
    kind: Kind = Kind.NONE
    reply: Reply = Reply.NONE
    target: Thread | None = None
    reopen: bool = False
    create_contact: bool = False
    active: bool = True


ROWS = [
    Row(Branch.OFF, msg(), facts(), settings(enabled=False), Outcome.IGNORE_OFF, Method.NONE),
    Row(Branch.OWN_ADDRESS, msg(sender="Support@contoso.test"), facts(), settings(), Outcome.IGNORE_LOOP,
        Method.NONE),
    Row(Branch.BOUNCE, msg(sender="MAILER-DAEMON@mx.customer.test"), facts(), settings(), Outcome.IGNORE_AUTO,
        Method.NONE),
    Row(Branch.AUTO_SUBMITTED, msg(headers={"auto-submitted": "auto-replied", **REPLY_HEADERS}),
        facts(by_message_id={"<ours-1@contoso.test>": CASE}), settings(), Outcome.IGNORE_AUTO, Method.NONE),
    Row(Branch.SUPPRESS, msg(headers={"x-auto-response-suppress": "All"}), facts(), settings(),
        Outcome.IGNORE_AUTO, Method.NONE),
    Row(Branch.BULK, msg(headers={"precedence": "Bulk"}), facts(), settings(), Outcome.IGNORE_AUTO, Method.NONE),
    Row(Branch.HEADER_MATCH, msg(headers={"references": "<x@y> <ours-1@contoso.test>"}),
        facts(by_message_id={"<ours-1@contoso.test>": CASE}, by_conversation=LEAD), settings(), Outcome.FILE,
        Method.HEADERS, Kind.CASE, target=CASE),
    Row(Branch.HEADER_CLOSED_REOPEN, msg(headers=REPLY_HEADERS), facts(by_message_id={"<ours-1@contoso.test>": CLOSED}),
        settings(), Outcome.FILE, Method.HEADERS, Kind.CASE, target=CLOSED, reopen=True),
    Row(Branch.HEADER_CLOSED_NEW, msg(headers=REPLY_HEADERS), facts(by_message_id={"<ours-1@contoso.test>": CLOSED}),
        settings(closed_case="new_case"), Outcome.NEW_CASE, Method.HEADERS, Kind.CASE, Reply.CONFIRM),
    Row(Branch.TAG_MATCH, msg("Re: [SUP#000042] new subject"), facts(tagged_case=CASE, by_conversation=LEAD),
        settings(), Outcome.FILE, Method.TAG, Kind.CASE, target=CASE),
    Row(Branch.TAG_CLOSED_REOPEN, msg("[sup#000042]"), facts(tagged_case=CLOSED), settings(), Outcome.FILE,
        Method.TAG, Kind.CASE, target=CLOSED, reopen=True),
    Row(Branch.TAG_CLOSED_NEW, msg("[SUP#000042]"), facts(tagged_case=CLOSED), settings(closed_case="new_case"),
        Outcome.NEW_CASE, Method.TAG, Kind.CASE, Reply.CONFIRM),
    Row(Branch.CONVERSATION_MATCH, msg("Fwd: something"), facts(by_conversation=LEAD), settings(), Outcome.FILE,
        Method.CONVERSATION, Kind.LEAD, target=LEAD),
    Row(Branch.CONVERSATION_CLOSED_REOPEN, msg(), facts(by_conversation=CLOSED), settings(), Outcome.FILE,
        Method.CONVERSATION, Kind.CASE, target=CLOSED, reopen=True),
    Row(Branch.CONVERSATION_CLOSED_NEW, msg(), facts(by_conversation=CLOSED, replied_recently=True),
        settings(closed_case="new_case"), Outcome.NEW_CASE, Method.CONVERSATION, Kind.CASE),
    Row(Branch.NEW_CASE_CONTACT, msg(), facts(**KNOWN), settings(), Outcome.NEW_CASE, Method.NEW, Kind.CASE,
        Reply.CONFIRM),
    Row(Branch.NEW_CASE_CREATE_CONTACT, msg(), facts(), settings(), Outcome.NEW_CASE, Method.NEW, Kind.CASE,
        Reply.CONFIRM, create_contact=True),
    Row(Branch.NEW_CASE_NO_CONTACT, msg(), facts(), settings(unknown_sender="none", confirm_receipt=None),
        Outcome.NEW_CASE, Method.NEW, Kind.CASE),
    Row(Branch.NEW_CASE_UNKNOWN_LEAD, msg(), facts(), settings(unknown_sender="lead"), Outcome.NEW_LEAD,
        Method.NEW, Kind.LEAD, Reply.CONFIRM),
    Row(Branch.NEW_LEAD, msg(), facts(), settings(new_conversation="create_lead"), Outcome.NEW_LEAD, Method.NEW,
        Kind.LEAD, Reply.CONFIRM),
    Row(Branch.NEW_LEAD_KNOWN_CONTACT, msg(), facts(**KNOWN), settings(new_conversation="create_lead"),
        Outcome.NEW_ACTIVITY, Method.NEW, Kind.CONTACT),
    Row(Branch.NEW_CONTACT_ACTIVITY, msg(), facts(**KNOWN), settings(new_conversation="associate_contact"),
        Outcome.NEW_ACTIVITY, Method.NEW, Kind.CONTACT),
    Row(Branch.NEW_CONTACT_CREATED, msg(), facts(), settings(new_conversation="associate_contact"),
        Outcome.NEW_ACTIVITY, Method.NEW, Kind.CONTACT, create_contact=True),
    Row(Branch.NEW_CONTACT_UNKNOWN_LEAD, msg(), facts(),
        settings(new_conversation="associate_contact", unknown_sender="lead"), Outcome.NEW_LEAD, Method.NEW,
        Kind.LEAD, Reply.CONFIRM),
    Row(Branch.NEW_UNASSIGNED, msg(), facts(),
        settings(new_conversation="associate_contact", unknown_sender="none", reply_to_unassigned=CONFIRM),
        Outcome.NEW_ACTIVITY, Method.NEW, Kind.NONE, Reply.UNASSIGNED),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.branch.name for r in ROWS])
def test_branch(row: Row) -> None:
    got = decide(row.message, row.facts, row.settings, active=row.active)
    assert (got.branch, got.outcome, got.method, got.kind, got.reply) == (
        row.branch, row.outcome, row.method, row.kind, row.reply)
    assert got.target == row.target and got.reopen is row.reopen and got.create_contact is row.create_contact
    assert got.files is (row.outcome not in (Outcome.IGNORE_AUTO, Outcome.IGNORE_LOOP, Outcome.IGNORE_OFF))


def test_every_branch_has_a_row() -> None:
    assert sorted(r.branch.name for r in ROWS) == sorted(b.name for b in Branch)


def test_inactive_mailbox_is_off() -> None:
    assert decide(msg(), facts(**KNOWN), settings(), active=False).branch is Branch.OFF


def test_another_installations_tag_does_not_match() -> None:
    # the tag names case 000042 of an ERP whose prefix is OTH: never ours, even if a case 000042 exists here
    got = decide(msg("[OTH#000042] printer"), facts(tagged_case=CASE, **KNOWN), settings())
    assert (got.branch, got.method) == (Branch.NEW_CASE_CONTACT, Method.NEW)


def test_headers_beat_tag_and_conversation() -> None:
    both = facts(by_message_id={"<ours-1@contoso.test>": LEAD}, tagged_case=CASE, by_conversation=CLOSED)
    got = decide(msg("[SUP#000042]", headers=REPLY_HEADERS), both, settings())
    assert (got.method, got.target) == (Method.HEADERS, LEAD)


def test_old_conversation_is_a_new_conversation() -> None:
    stale = dataclasses.replace(CASE, filed_at=NOW - timedelta(days=31))
    assert decide(msg(), facts(by_conversation=stale, **KNOWN), settings()).method is Method.NEW


def test_auto_submitted_no_is_a_person() -> None:
    got = decide(msg(headers={"auto-submitted": "no"}), facts(**KNOWN), settings())
    assert got.branch is Branch.NEW_CASE_CONTACT


def test_one_automatic_reply_per_sender_thread_hour() -> None:
    first = decide(msg(), facts(**KNOWN), settings())
    again = decide(msg(), facts(replied_recently=True, **KNOWN), settings())
    assert (first.reply, again.reply) == (Reply.CONFIRM, Reply.NONE)
    assert again.outcome is Outcome.NEW_CASE


def test_employee_owns_the_activity_when_routed() -> None:
    employee = facts(sender_employee="EP0007", **KNOWN)
    assert decide(msg(), employee, settings(route_employee_mail=True, default_owner="EP0001")).owner == "EP0007"
    assert decide(msg(), employee, settings(default_owner="EP0001")).owner == "EP0001"


def test_message_parsing() -> None:
    message = msg("RE: [ SUP # 12 ] x", headers={"in-reply-to": "<A@x>", "references": "<r1@x> <r2@x> <A@x>"})
    assert message.referenced_ids() == ("<a@x>", "<r2@x>", "<r1@x>")
    assert message.tag() == ("SUP", "12")
    assert isinstance(decide(message, facts(), settings()), Decision)
