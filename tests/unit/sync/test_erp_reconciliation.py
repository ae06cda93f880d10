"""ERP deletions the listing never shows (no push notification) are found by the daily id reconciliation."""

from __future__ import annotations

from shared.domain.records import Contact, RecordType
from shared.domain.status import RunState
from tests.unit.sync.harness import Harness

C = RecordType.CONTACT


async def test_unseen_erp_delete_reaches_the_mailbox_at_the_next_reconciliation(harness: Harness) -> None:
    keep = harness.user_erp_create(C, Contact(first_name="Kim", email="kim@fabrikam.test"))
    gone = harness.user_erp_create(C, Contact(first_name="Lou", email="lou@fabrikam.test"))
    assert (await harness.run(C)).state is RunState.SUCCEEDED
    assert len(harness.mailbox_items(C)) == 2

    harness.erp.user_delete_unseen(gone)
    await harness.run(C)  # the incremental listing cannot see it, and reconciliation is not due yet
    assert len(harness.mailbox_items(C)) == 2

    harness.clock.advance(hours=25)
    summary = await harness.run(C)
    assert summary.state is RunState.SUCCEEDED
    assert [i.record.first_name for i in harness.mailbox_items(C)] == ["Kim"]
    assert await harness.state.get_link_by_erp("ann@contoso.com", C, gone) is None
    assert await harness.state.get_link_by_erp("ann@contoso.com", C, keep) is not None


async def test_reconciliation_unlinks_a_record_that_only_left_the_scope(harness: Harness) -> None:
    moved = harness.user_erp_create(C, Contact(first_name="Max", email="max@fabrikam.test"))
    await harness.run(C)
    row = harness.erp._rows[moved]
    row.owner = "EP9999"  # reassigned in the ERP without a new version the listing would show

    harness.clock.advance(hours=25)
    await harness.run(C)
    assert [i.record.first_name for i in harness.mailbox_items(C)] == ["Max"]  # unlinked, never deleted
    assert [i.id for i in harness.erp_items(C)] == [moved]
    assert await harness.state.get_link_by_erp("ann@contoso.com", C, moved) is None
