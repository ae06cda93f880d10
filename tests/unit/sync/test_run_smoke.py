from __future__ import annotations

from shared.domain.records import Contact, RecordType
from shared.domain.status import RunState
from tests.unit.sync.harness import Harness, hashes

C = RecordType.CONTACT


async def test_contacts_both_ways_and_second_run_writes_nothing(harness: Harness) -> None:
    for i in range(5):
        harness.user_erp_create(C, Contact(first_name=f"E{i}", email=f"e{i}@x.com"))
    for i in range(3):
        harness.user_mailbox_create(C, Contact(first_name=f"M{i}", email=f"m{i}@x.com"))
    summary = await harness.run(C)
    assert summary.state is RunState.SUCCEEDED, summary
    assert hashes(harness.mailbox_items(C)) == hashes(harness.erp_items(C))
    assert len(harness.erp_items(C)) == 8
    writes = len(harness.mbx.applied) + len(harness.erp.applied)
    summary = await harness.run(C)
    assert summary.state is RunState.SUCCEEDED
    assert len(harness.mbx.applied) + len(harness.erp.applied) == writes
