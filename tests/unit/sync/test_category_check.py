"""When a run ensures the mailbox's category: the decision table of shared.sync.category."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.config import Category
from shared.sync.category import check_due, mark

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ERP = Category(name="ERP", color="preset7")


@pytest.mark.parametrize(("stored", "category", "due"), [
    (None, ERP, True),                                                        # never checked
    (mark(ERP, NOW - timedelta(hours=1)), ERP, False),                        # checked an hour ago
    (mark(ERP, NOW - timedelta(hours=23, minutes=59)), ERP, False),
    (mark(ERP, NOW - timedelta(hours=24)), ERP, True),                        # a day old: check again
    (mark(ERP, NOW - timedelta(hours=1)), Category(name="CRM"), True),        # the policy renamed it
    (mark(ERP, NOW - timedelta(hours=1)), Category(name="ERP", color="preset1"), True),  # recoloured
    (mark(ERP, NOW + timedelta(hours=2)), ERP, True),                         # clock went back
    ("not json", ERP, True),
    ('{"name": "ERP"}', ERP, True),
])
def test_category_check_table(stored: str | None, category: Category, due: bool) -> None:
    assert check_due(stored, category, NOW) is due
