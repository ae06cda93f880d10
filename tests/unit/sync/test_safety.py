"""Safety rules end to end with the twins: conflicts, delete vs modify, crashes and their resumption."""

from __future__ import annotations

import pytest

from shared.domain.config import ConflictResolution, ServerConfig, SyncPolicy
from shared.domain.records import Contact, RecordType
from shared.domain.status import RunState
from tests.unit.sync.harness import EMAIL, Crash, Harness, crash_after_writes, hashes

C = RecordType.CONTACT
BASE = Contact(first_name="Ann", last_name="Lee", job_title="CEO", email="ann@x.com")


async def synced_pair(conflict: ConflictResolution) -> tuple[Harness, str, str]:
    h = Harness(SyncPolicy(name="p", conflict_resolution=conflict), ServerConfig(name="s1"))
    erp_id = h.user_erp_create(C, BASE)
    await h.run(C)
    [item] = h.mailbox_items(C)
    return h, erp_id, item.id


@pytest.mark.parametrize("conflict", list(ConflictResolution))
async def test_conflicts_resolve_per_policy(conflict: ConflictResolution) -> None:
    h, erp_id, mbx_id = await synced_pair(conflict)
    h.mbx.user_update(EMAIL, mbx_id, BASE.with_fields({"last_name": "Lee-Smith", "job_title": "CFO"}))
    h.erp.user_update(erp_id, BASE.with_fields({"job_title": "CTO"}))     # the ERP edit is newer
    summary = await h.run(C)
    assert summary.state is RunState.SUCCEEDED
    assert sum(c.conflicts for c in summary.counts.values()) == 1
    erp = sorted((i.record.last_name, i.record.job_title) for i in h.erp_items(C))
    expected = {
        ConflictResolution.SYSTEM: [("Lee", "CTO")],
        ConflictResolution.LAST_UPDATED: [("Lee", "CTO")],
        ConflictResolution.EXCHANGE: [("Lee-Smith", "CFO")],
        ConflictResolution.KEEP_BOTH: [("Lee", "CTO"), ("Lee-Smith", "CFO")],
        ConflictResolution.FIELD_MERGE: [("Lee-Smith", "CTO")],   # one-sided field kept, shared one newest
    }[conflict]
    assert erp == expected
    assert hashes(h.mailbox_items(C)) == hashes(h.erp_items(C))
    before = (len(h.erp.applied), len(h.mbx.applied))
    await h.run(C)
    assert (len(h.erp.applied), len(h.mbx.applied)) == before


async def test_delete_versus_modify_keeps_the_modified_record() -> None:
    h, erp_id, mbx_id = await synced_pair(ConflictResolution.LAST_UPDATED)
    h.erp.user_delete(erp_id)
    h.mbx.user_update(EMAIL, mbx_id, BASE.with_fields({"city": "Oslo"}))
    assert (await h.run(C)).state is RunState.SUCCEEDED
    [erp] = h.erp_items(C)
    assert erp.id != erp_id and erp.record.city == "Oslo"
    assert len(h.mailbox_items(C)) == 1


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("side", ["erp", "mailbox"])
async def test_a_crash_right_after_creates_never_creates_twice(side: str, k: int) -> None:
    h = Harness(SyncPolicy(name="p"), ServerConfig(name="s1", update_batch_size=1))
    for i in range(3):
        h.user_erp_create(C, Contact(first_name=f"e{i}"))
        h.user_mailbox_create(C, Contact(first_name=f"m{i}"))
    crash_after_writes(h.erp if side == "erp" else h.mbx, k)
    with pytest.raises(Crash):
        await h.run(C)
    assert (await h.run(C)).state is RunState.SUCCEEDED
    assert len(h.erp_items(C)) == len(h.mailbox_items(C)) == 6
    assert hashes(h.mailbox_items(C)) == hashes(h.erp_items(C))
    assert await h.state.list_intents(EMAIL, C) == []
