"""Which messages of a filed conversation follow it onto the record: one case per rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.addin.follow import RULES, ConversationMessage, Step, decide

FILED = datetime(2026, 12, 1, 12, 0, 0, 600000, tzinfo=UTC)


def msg(*, id: str = "m1", imid: str = "<m1@x>", at: datetime | None = FILED + timedelta(hours=1),
        draft: bool = False) -> ConversationMessage:
    return ConversationMessage(id, imid, at, draft)


CASES = {
    "a later reply is filed": (msg(), set(), Step.FILE),
    "a reply without a receive time is filed": (msg(at=None), set(), Step.FILE),
    "a message filed before is known (by internetMessageId)": (msg(), {"<m1@x>"}, Step.KNOWN),
    "a message filed before is known (by id, no internetMessageId)": (msg(imid=""), {"m1"}, Step.KNOWN),
    "a draft waits until it is sent": (msg(draft=True), set(), Step.DRAFT),
    "a message older than the filing stays where the user left it": (
        msg(at=FILED - timedelta(minutes=1)), set(), Step.EARLIER),
    "a known draft is known": (msg(draft=True), {"<m1@x>"}, Step.KNOWN),
    "a reply in the filing's second (whole-second receive time) is filed": (
        msg(at=FILED.replace(microsecond=0)), set(), Step.FILE),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_follow_rules(name: str) -> None:
    message, known, expected = CASES[name]
    assert decide(message, known, FILED) is expected


def test_every_rule_has_a_case() -> None:
    assert {expected for _, _, expected in CASES.values()} == {step for step, _ in RULES}
