"""Replies follow a filed conversation: every row of the decision table, then the look-up over the
in-memory state store with the filing document as the add-in writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.addin import filing
from shared.domain.records import Contact, EmailMessage
from shared.ports import CrmRecord, MailboxItem
from shared.state.memory import InMemoryStateStore
from shared.sync import follow
from shared.sync.follow import Filing, Step

FILED = datetime(2026, 12, 1, 9, 0, 30, 400_000, tzinfo=UTC)
CASE = Filing("case", "c-1", FILED)

CASES: dict[str, tuple[datetime | None, Filing | None, Step]] = {
    "no filing": (FILED + timedelta(hours=1), None, Step.NOT_FILED),
    "no filing, no date": (None, None, Step.NOT_FILED),
    "sent an hour before the filing": (FILED - timedelta(hours=1), CASE, Step.EARLIER),
    "sent in the filing's second (whole-second dates)": (FILED.replace(microsecond=0), CASE, Step.FOLLOW),
    "sent a minute later": (FILED + timedelta(minutes=1), CASE, Step.FOLLOW),
    "sent on the last day": (FILED + timedelta(days=follow.FOLLOW_DAYS), CASE, Step.FOLLOW),
    "sent after the last day": (FILED + timedelta(days=follow.FOLLOW_DAYS, seconds=1), CASE, Step.STALE),
    "no date": (None, CASE, Step.FOLLOW),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_follow_rules(name: str) -> None:
    sent, filed, expected = CASES[name]
    assert follow.decide(sent, filed) is expected


def test_every_step_has_a_row() -> None:
    assert {step for _, _, step in CASES.values()} == set(Step)
    assert [step for step, _ in follow.RULES][-1] is Step.FOLLOW


def message(sent: datetime, conversation: str = "conv-1", **kw: Any) -> MailboxItem[Any]:
    return MailboxItem(id="m-2", etag="e", modified_at=sent, record=EmailMessage(subject="RE: order", sent_at=sent),
                       conversation_id=conversation, **kw)


@pytest.mark.parametrize(("doc", "expected"), [
    ({"targets": [{"kind": "invoice", "id": "x", "at": FILED.isoformat()}]}, None),
    ({"targets": [{"kind": "case", "id": "", "at": FILED.isoformat()}]}, None),
    ({"targets": []}, None),
    ({"targets": [{"kind": "lead", "id": "l-1", "at": FILED.isoformat()}]}, Filing("lead", "l-1", FILED)),
    ({"filed_at": (FILED - timedelta(days=1)).isoformat(),
      "targets": [{"kind": "case", "id": "c-2", "at": FILED.isoformat()}]},
     Filing("case", "c-2", FILED - timedelta(days=1))),
])
def test_a_filing_document_names_a_record_or_nothing(doc: dict[str, Any], expected: Filing | None) -> None:
    assert follow.filing_of(doc) == expected


async def test_a_later_reply_follows_the_newest_record_the_add_in_filed() -> None:
    store = InMemoryStateStore()
    case = CrmRecord("case", "c-1", "000042", title="Order 77")
    opportunity = CrmRecord("opportunity", "o-1", "000007", title="More printers")
    await filing.remember(store, "Ann@contoso.test", "conv-1", case, by="ann@contoso.test", at=FILED)
    await filing.remember(store, "ann@contoso.test", "conv-1", opportunity, by="ann@contoso.test",
                          at=FILED + timedelta(hours=1))
    later = FILED + timedelta(hours=2)
    assert await follow.filed_record(store, "ann@contoso.test", message(later)) == ("opportunity", "o-1")
    assert await follow.filed_record(store, "ann@contoso.test", message(FILED - timedelta(days=1))) is None
    assert await follow.filed_record(store, "ann@contoso.test", message(later, "conv-2")) is None
    assert await follow.filed_record(store, "bob@contoso.test", message(later)) is None
    assert await follow.filed_record(store, "ann@contoso.test", message(later, "")) is None
    contact = MailboxItem(id="c", etag="e", modified_at=later, record=Contact(), conversation_id="conv-1")
    assert await follow.filed_record(store, "ann@contoso.test", contact) is None
