"""Examples the feed state machine found, replayed as fixed step sequences of the same rules.

A saved Hypothesis example stops replaying once a rule is added; these drive the machine's rules
directly, so each keeps checking the same invariants (the machine's own asserts) whatever the
strategies become."""

from __future__ import annotations

from typing import Any

import pytest

import tests.property.test_sync_machine as machine
from shared.domain.config import ConflictResolution, Direction
from shared.domain.records import RecordType
from tests.property.test_sync_machine import FeedSyncMachine


class Drawn:
    """Stands in for ``st.data()``: hands out the given values in order."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def draw(self, strategy: Any, label: str | None = None) -> Any:
        return self.values.pop(0)


SAME = {"first_name": "Ann", "job_title": "", "city": ""}


@pytest.fixture
def feed_machine(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(machine, "event", lambda *args, **kwargs: None)  # outside a Hypothesis test
    sm = FeedSyncMachine()
    yield sm
    sm.teardown()


@pytest.mark.parametrize("which", [0, 1])
def test_a_deleted_twin_after_an_export_reset_with_a_bare_erp_version_change(feed_machine: Any, which: int) -> None:
    """Contacts one-way ERP -> mailbox, two ERP contacts with the same fields; the admin resets the
    export, the user deletes a mailbox twin, its ERP record gets a new version without a content
    change; sync. The feed routed that version before the type's full own listing, which saw it and
    (the twin gone) unlinked the record; the routed copy used to re-create the twin one run late
    (the second run wrote)."""
    sm = feed_machine
    sm.setup(RecordType.CONTACT, Direction.SYSTEM_TO_EXCHANGE, ConflictResolution.SYSTEM, 1, 1, 2, 0,
             Drawn(dict(SAME), dict(SAME)))
    sm.admin_resets_the_export()
    sm.mailbox_user_deletes(which)
    sm.spurious_version_change(which, True)
    sm.sync(None)
    sm.each_id_linked_once()
    sm.writes_are_conditional_and_direction_respected()
    sm.no_duplicates()
