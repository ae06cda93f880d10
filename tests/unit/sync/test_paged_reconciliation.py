"""Deletion reconciliation sweeps the links page by page (memory bounded by the page size).

The harness's page size is 4, so every case here has links over several pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from shared.domain.records import Contact, RecordType
from shared.domain.status import RunState
from shared.ports import ErpScope
from shared.sync import names
from shared.sync import run as engine_run
from tests.unit.sync.harness import EMAIL, Harness

C = RecordType.CONTACT


def _contacts(harness: Harness, n: int) -> list[str]:
    return [harness.user_erp_create(C, Contact(first_name=f"P{i:02d}", email=f"p{i}@fabrikam.test"))
            for i in range(n)]


def _spy_sizes(harness: Harness) -> list[int]:
    """Record how many ids each existing_ids call asks about, on both twins."""
    sizes: list[int] = []
    mbx_inner, erp_inner = harness.mbx.existing_ids, harness.erp.existing_ids

    async def mbx_spy(mailbox: str, record_type: RecordType, container: str, ids: Sequence[str]) -> set[str]:
        sizes.append(len(ids))
        return await mbx_inner(mailbox, record_type, container, ids)

    async def erp_spy(record_type: RecordType, scope: ErpScope, ids: Sequence[str]) -> set[str]:
        sizes.append(len(ids))
        return await erp_inner(record_type, scope, ids)

    harness.mbx.existing_ids = mbx_spy  # type: ignore[method-assign]
    harness.erp.existing_ids = erp_spy  # type: ignore[method-assign]
    return sizes


def _no_list_ids(harness: Harness) -> None:
    async def refuse(*args: Any) -> Any:
        raise AssertionError("the reconciliation must not list every id in scope")

    harness.erp.list_ids = refuse  # type: ignore[method-assign]


async def _links(harness: Harness) -> int:
    count, cursor = 0, None
    while True:
        page = await harness.state.list_links(EMAIL, C, cursor, 100)
        count += len(page.items)
        if page.complete or page.cursor is None:
            return count
        cursor = page.cursor


async def test_full_mailbox_resync_finds_deletions_on_every_page_of_links(harness: Harness) -> None:
    ids = _contacts(harness, 11)
    assert (await harness.run(C)).state is RunState.SUCCEEDED
    by_stamp = {item.stamp: item.id for item in harness.mailbox_items(C)}
    deleted = [ids[0], ids[5], ids[10]]  # on the first, second and last page of links
    for erp_id in deleted:
        harness.mbx.user_delete(EMAIL, by_stamp[erp_id])
    harness.mbx.invalidate_cursors(EMAIL)  # the delta never shows these deletions
    sizes = _spy_sizes(harness)

    await harness.run(C)

    assert sorted(i.id for i in harness.erp_items(C)) == sorted(set(ids) - set(deleted))
    assert len(harness.mailbox_items(C)) == 8
    assert await _links(harness) == 8
    assert sizes and max(sizes) <= harness.server.select_batch_size
    assert sum(sizes) == len(deleted)  # only the links the full listing did not see were asked about


async def test_a_full_listing_too_long_to_remember_has_every_link_checked(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _contacts(harness, 11)
    assert (await harness.run(C)).state is RunState.SUCCEEDED
    by_stamp = {item.stamp: item.id for item in harness.mailbox_items(C)}
    harness.mbx.user_delete(EMAIL, by_stamp[ids[3]])
    harness.mbx.invalidate_cursors(EMAIL)
    monkeypatch.setattr(engine_run, "STAMP_MEMORY_PAGES", 1)   # 4 ids: the listing's 10 do not fit
    sizes = _spy_sizes(harness)

    await harness.run(C)

    assert len(harness.mailbox_items(C)) == 10 and await _links(harness) == 10
    assert sum(sizes) >= 11  # nothing remembered: every link was checked


async def test_daily_erp_reconciliation_pages_the_links_and_lists_no_ids(harness: Harness) -> None:
    ids = _contacts(harness, 11)
    await harness.run(C)
    deleted = [ids[1], ids[6], ids[9]]
    for erp_id in deleted:
        harness.erp.user_delete_unseen(erp_id)
    sizes = _spy_sizes(harness)
    _no_list_ids(harness)

    harness.clock.advance(hours=25)
    summary = await harness.run(C)

    assert summary.state is RunState.SUCCEEDED
    remaining = {i.stamp for i in harness.mailbox_items(C)}
    assert remaining == set(ids) - set(deleted)
    assert await _links(harness) == 8
    assert sizes and max(sizes) <= harness.server.select_batch_size


async def test_full_erp_listing_after_reset_unlinks_records_that_left_the_scope(harness: Harness) -> None:
    ids = _contacts(harness, 9)
    await harness.run(C)
    for erp_id in (ids[0], ids[8]):
        harness.erp._rows[erp_id].owner = "EP9999"  # reassigned without a version the listing shows
    harness.erp.user_delete_unseen(ids[4])
    await harness.state.delete_cursor(EMAIL, names.erp_cursor(C))  # as after an admin reset: full listing
    _no_list_ids(harness)

    await harness.run(C)

    listed = sorted(i.record.first_name for i in harness.mailbox_items(C))
    assert "P04" not in listed and {"P00", "P08"} <= set(listed)  # deleted vs. only out of scope
    assert len(listed) == 8
    assert await harness.state.get_link_by_erp(EMAIL, C, ids[0]) is None
    assert await harness.state.get_link_by_erp(EMAIL, C, ids[8]) is None
    assert await _links(harness) == 6


async def test_first_read_over_the_stamp_memory_cap_still_creates_nothing_twice(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_run, "STAMP_MEMORY_PAGES", 1)  # 4 stamps at most
    ids = _contacts(harness, 7)
    for i, erp_id in enumerate(ids):  # stamped items left by an earlier installation
        harness.mbx.user_create(EMAIL, C, harness.container(C),
                                Contact(first_name=f"P{i:02d}", email=f"p{i}@fabrikam.test"),
                                categories=(harness.policy.category.name,), stamp=erp_id)

    assert (await harness.run(C)).state is RunState.SUCCEEDED

    assert len(harness.mailbox_items(C)) == 7 and len(harness.erp_items(C)) == 7
    assert await _links(harness) == 7
    assert (await harness.run(C)).state is RunState.SUCCEEDED
    assert len(harness.mailbox_items(C)) == 7 and len(harness.erp_items(C)) == 7
