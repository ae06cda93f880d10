"""Table-driven tests of the transactional-mail decision and composition: one case per branch."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.mailsend.decide import (
    ACCEPT_GRACE,
    SETTLE,
    Action,
    Attempt,
    Branch,
    Mode,
    Phase,
    Situation,
    Thread,
    Usage,
    backoff,
    compose,
    decide,
    mode_of,
)
from shared.ports import OutgoingMail

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MAIL = OutgoingMail(id="e1", account_id=3, status="Pending Processing", subject="Invoice INV-1", body="Hi",
                    to=("carol@customer.test",))
FREE = Usage(0, 0)
MB = 1024 * 1024


def situation(**kw: Any) -> Situation:
    return Situation(**{"mail": MAIL, "pending": True, "now": NOW, "usage": FREE, **kw})


def attempt(phase: Phase, attempts: int = 1, ago: timedelta = timedelta(minutes=30), **kw: Any) -> Attempt:
    return Attempt(phase, attempts, NOW - ago, **kw)


def many(n: int) -> OutgoingMail:
    return dataclasses.replace(MAIL, to=tuple(f"r{i}@customer.test" for i in range(n)))


CASES: list[tuple[str, Situation, Action, Branch]] = [
    ("ERP no longer waits", situation(pending=False, in_sent_items=True), Action.SKIP, Branch.NOT_PENDING),
    ("earlier attempt in Sent Items, even suspended",
     situation(attempt=attempt(Phase.SENDING), in_sent_items=True, suspended=True), Action.CONFIRM,
     Branch.IN_SENT_ITEMS),
    ("suspended", situation(suspended=True), Action.WAIT, Branch.SUSPENDED),
    ("no recipients", situation(mail=dataclasses.replace(MAIL, to=())), Action.FAIL, Branch.NO_RECIPIENTS),
    ("501 recipients", situation(mail=many(501)), Action.FAIL, Branch.TOO_MANY),
    ("500 recipients are fine", situation(mail=many(500)), Action.SEND, Branch.SEND),
    ("file over the limit", situation(largest_file=151 * MB), Action.FAIL, Branch.TOO_LARGE),
    ("file at the limit", situation(largest_file=150 * MB), Action.SEND, Branch.SEND),
    ("interrupted attempt, young", situation(attempt=attempt(Phase.SENDING, ago=SETTLE / 2)), Action.WAIT,
     Branch.SETTLING),
    ("interrupted attempt, settled, not in Sent Items", situation(attempt=attempt(Phase.SENDING)), Action.SEND,
     Branch.SEND),
    ("accepted, within grace", situation(attempt=attempt(Phase.ACCEPTED, ago=ACCEPT_GRACE / 2)), Action.WAIT,
     Branch.ACCEPTED_PENDING),
    ("accepted, never in Sent Items", situation(attempt=attempt(Phase.ACCEPTED, ago=ACCEPT_GRACE * 2)),
     Action.FAIL, Branch.ACCEPTED_LOST),
    ("attempts used up", situation(attempt=attempt(Phase.FAILED, 3, error="RemoteError: 503")), Action.FAIL,
     Branch.EXHAUSTED),
    ("more attempts allowed by the server", situation(attempt=attempt(Phase.FAILED, 3), max_attempts=5),
     Action.SEND, Branch.SEND),
    ("backoff not over", situation(attempt=attempt(Phase.FAILED, 1, next_at=NOW + timedelta(minutes=1)))
     , Action.WAIT, Branch.BACKOFF),
    ("backoff over", situation(attempt=attempt(Phase.FAILED, 1, next_at=NOW)), Action.SEND, Branch.SEND),
    ("day quota would pass 10,000", situation(usage=Usage(0, 9_999), mail=many(2)), Action.WAIT, Branch.DAY_QUOTA),
    ("day quota exactly reached", situation(usage=Usage(0, 9_998), mail=many(2)), Action.SEND, Branch.SEND),
    ("30 messages this minute", situation(usage=Usage(30, 30, minute_free_at=NOW + timedelta(seconds=5))),
     Action.WAIT, Branch.MINUTE_QUOTA),
    ("29 messages this minute", situation(usage=Usage(29, 29)), Action.SEND, Branch.SEND),
]


@pytest.mark.parametrize(("name", "given", "action", "branch"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(name: str, given: Situation, action: Action, branch: Branch) -> None:
    decision = decide(given)
    assert (decision.action, decision.branch) == (action, branch)
    if action is Action.FAIL:
        assert decision.reason, "a failure always carries the reason the ERP shows"


def test_every_branch_is_in_the_table() -> None:
    assert {c[3] for c in CASES} == set(Branch)


def test_waits_say_until_when() -> None:
    assert decide(situation(usage=Usage(30, 30, minute_free_at=NOW + timedelta(seconds=5)))).until == \
        NOW + timedelta(seconds=5)
    assert decide(situation(attempt=attempt(Phase.SENDING, ago=timedelta(0)))).until == NOW + SETTLE
    assert "2 attempts: RemoteError: 503" in decide(
        situation(attempt=attempt(Phase.FAILED, 2, error="RemoteError: 503"), max_attempts=2)).reason


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert backoff(20) == timedelta(hours=1)


PARENT = "<m1@customer.test>"
COMPOSE: list[tuple[str, str | None, Thread, Mode, dict[str, str]]] = [
    ("agent's answer to a received mail", "EP1", Thread(PARENT, received_id="g1"), Mode.REPLY, {}),
    ("agent's answer, original gone from the mailbox", "EP1", Thread(PARENT), Mode.MIME,
     {"In-Reply-To": PARENT, "References": PARENT}),
    ("agent's new mail", "EP1", Thread(), Mode.JSON, {}),
    ("notification answering a received mail", None, Thread(PARENT, "<r0@x>", received_id="g1"), Mode.MIME,
     {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All", "In-Reply-To": PARENT,
      "References": f"<r0@x> {PARENT}"}),
    ("invoice", None, Thread(), Mode.MIME, {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}),
]


@pytest.mark.parametrize(("name", "owner", "thread", "mode", "headers"), COMPOSE, ids=[c[0] for c in COMPOSE])
def test_composition_table(name: str, owner: str | None, thread: Thread, mode: Mode, headers: dict[str, str]) -> None:
    mail = dataclasses.replace(MAIL, owner=owner)
    message = compose(mail, thread)
    assert mode_of(owner is None, thread) is mode
    assert dict(message.headers) == headers
    assert message.mime is (mode is Mode.MIME)
    assert message.reply_to == ("g1" if mode is Mode.REPLY else None)
    assert message.stamp == "e1"


def test_case_mail_carries_the_tag_once() -> None:
    thread = Thread(case_number="000042", tag_prefix="SUP")
    assert compose(MAIL, thread).subject == "Invoice INV-1 [SUP#000042]"
    already = dataclasses.replace(MAIL, subject="RE: broken [sup#000042]")
    assert compose(already, thread).subject == "RE: broken [sup#000042]"
    assert compose(MAIL, Thread()).subject == "Invoice INV-1"
