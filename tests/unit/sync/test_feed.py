"""The tenant ERP feed with the engine, on the in-memory twins: one listing serves every mailbox,
each run consumes only its routed changes, and nothing is lost across crashes or a scope change."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.config import ContactFilter, Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import Contact, RecordType
from shared.domain.status import RunState, RunSummary
from shared.errors import RemoteError
from shared.ports import Link
from shared.sync import feed, handover, names
from shared.sync.routing import Subscriber
from tests.engine import sync_mailbox
from tests.unit.sync.harness import Harness

C = RecordType.CONTACT
BOB = Mailbox(email="bob@contoso.com", server="s1", employee_id="EP0002")


def world() -> Harness:
    policy = SyncPolicy(name="p", emails={"enabled": False}, tasks={"enabled": False}, events={"enabled": False})
    return Harness(policy, ServerConfig(name="s1", select_batch_size=3, update_batch_size=2))


def subscribers(w: Harness, bob_filter: ContactFilter = ContactFilter.OWNER) -> list[Subscriber]:
    return [Subscriber(w.mailbox.email, w.mailbox.employee_id, frozenset({C})),
            Subscriber(BOB.email, BOB.employee_id, frozenset({C}), bob_filter)]


async def run(w: Harness, mailbox: Mailbox | None = None) -> RunSummary:
    return await sync_mailbox(mailbox=mailbox or w.mailbox, server=w.server, policy=w.policy, mailbox_gateway=w.mbx,
                              erp_gateway=w.erp, state=w.state, clock=w.clock, run_id=f"run{next(w.runs)}",
                              record_types=(C,), feed=True)


async def read(w: Harness, subs: list[Subscriber] | None = None) -> feed.FeedRead:
    return await feed.read_feed(w.erp, w.state, C, subs or subscribers(w), page_size=3)


def contact(n: int) -> Contact:
    return Contact(first_name=f"F{n}", last_name=f"L{n}", email=f"c{n}@x.test")


async def followed(w: Harness) -> None:
    """The feed exists and both mailboxes handed over to it."""
    first = await read(w)
    assert first.first and first.routed == 0
    for mailbox in (w.mailbox, BOB):
        assert (await run(w, mailbox)).state is RunState.SUCCEEDED
        assert (await w.state.get_cursors(mailbox.email)).values[names.erp_cursor(C)] == feed.FOLLOWS


async def test_one_listing_routes_each_change_to_its_owner_only() -> None:
    w = world()
    w.user_erp_create(C, contact(0))
    await followed(w)
    for n in range(1, 5):
        w.user_erp_create(C, contact(n))                    # ann's
    w.user_erp_create(C, contact(9), owner="EP0002")        # bob's
    w.user_erp_create(C, contact(8), owner="EP0099")        # nobody's
    calls = w.erp.faults.calls
    got = await read(w)
    assert (got.listed, got.routed, got.mailboxes) == (6, 5, frozenset({w.mailbox.email, BOB.email}))
    assert w.erp.faults.calls - calls == 2                  # 6 changes in pages of 3: one listing for all
    calls = w.erp.faults.calls
    assert (await run(w, BOB)).state is RunState.SUCCEEDED
    assert w.erp.faults.calls - calls == 1                  # bob reads his one record by id
    assert [i.record.first_name for i in w.mbx.items(BOB.email, C, w.mbx.container_id(BOB.email, C, None))] == ["F9"]
    assert await w.state.list_routed(BOB.email, C, 10) == []
    assert (await run(w)).state is RunState.SUCCEEDED
    assert sorted(i.record.first_name for i in w.mailbox_items(C)) == ["F0", "F1", "F2", "F3", "F4"]
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []


async def test_a_quiet_mailbox_costs_the_erp_nothing_and_its_own_writes_come_back_free() -> None:
    w = world()
    w.user_erp_create(C, contact(0))
    await followed(w)
    calls = w.erp.faults.calls
    assert (await run(w)).state is RunState.SUCCEEDED       # nothing routed: no ERP request at all
    assert w.erp.faults.calls == calls
    item = w.mailbox_items(C)[0]
    w.mbx.user_update(w.mailbox.email, item.id, item.record.with_fields({"job_title": "CEO"}))
    assert (await run(w)).state is RunState.SUCCEEDED       # writes the edit to the ERP
    assert (await read(w)).routed == 1                      # the feed lists that write back to ann
    calls = w.erp.faults.calls
    assert (await run(w)).state is RunState.SUCCEEDED
    assert w.erp.faults.calls == calls                      # the link knows that version: no read
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []


async def test_a_crash_between_routing_and_consumption_loses_nothing() -> None:
    w = world()
    await followed(w)
    w.user_erp_create(C, contact(1))
    await read(w)
    w.erp.fail_call(1, RemoteError("down", status=503))     # the run's read by id fails
    failed = await run(w)
    assert failed.state is not RunState.SUCCEEDED
    assert [c.erp_id for c in await w.state.list_routed(w.mailbox.email, C, 10)] == [w.erp_items(C)[0].id]
    assert (await run(w)).state is RunState.SUCCEEDED
    assert [i.record.first_name for i in w.mailbox_items(C)] == ["F1"]
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []


async def test_a_crash_before_the_watermark_save_routes_the_same_changes_again() -> None:
    w = world()
    await followed(w)
    w.user_erp_create(C, contact(1))
    before = await w.state.get_feed_cursor(C)
    w.state.fail_next("put_feed_cursor", RuntimeError("process dies"))
    with pytest.raises(RuntimeError):
        await read(w)
    assert await w.state.get_feed_cursor(C) == before       # the watermark did not move
    assert len(await w.state.list_routed(w.mailbox.email, C, 10)) == 1  # but the change is recorded
    again = await read(w)
    assert again.routed == 1                                # listed again, one row still (upsert)
    assert len(await w.state.list_routed(w.mailbox.email, C, 10)) == 1
    assert (await run(w)).state is RunState.SUCCEEDED
    assert [i.record.first_name for i in w.mailbox_items(C)] == ["F1"]


async def test_a_mailbox_whose_scope_widens_relists_then_follows_again() -> None:
    w = world()
    w.user_erp_create(C, contact(1), owner="EP0099")
    await followed(w)
    # the admin gives bob the "all" filter and resets his export: his own full listing, then the feed
    await w.state.delete_cursor(BOB.email, names.erp_cursor(C))
    policy = w.policy
    w.policy = policy.model_copy(update={"contacts": policy.contacts.model_copy(update={"filter": ContactFilter.ALL})})
    assert (await run(w, BOB)).state is RunState.SUCCEEDED
    assert (await w.state.get_cursors(BOB.email)).values[names.erp_cursor(C)] == feed.FOLLOWS
    bob_items = w.mbx.items(BOB.email, C, w.mbx.container_id(BOB.email, C, None))
    assert [i.record.first_name for i in bob_items] == ["F1"]
    w.user_erp_create(C, contact(2), owner="EP0099")
    assert (await read(w, subscribers(w, ContactFilter.ALL))).mailboxes == {BOB.email}
    assert (await run(w, BOB)).state is RunState.SUCCEEDED
    names_now = sorted(i.record.first_name for i in w.mbx.items(BOB.email, C, w.mbx.container_id(BOB.email, C, None)))
    assert names_now == ["F1", "F2"]


async def test_an_own_listing_hands_over_only_once_the_feed_existed_as_it_began() -> None:
    w = world()
    w.user_erp_create(C, contact(0))
    assert (await run(w)).state is RunState.SUCCEEDED       # no feed yet: an own listing, own cursor
    cursor = (await w.state.get_cursors(w.mailbox.email)).values[names.erp_cursor(C)]
    assert cursor != feed.FOLLOWS
    await read(w)                                           # the feed starts
    assert (await run(w)).state is RunState.SUCCEEDED       # incremental own listing: marks, keeps own
    values = (await w.state.get_cursors(w.mailbox.email)).values
    assert values[names.erp_cursor(C)] != feed.FOLLOWS
    assert values[names.erp_feed_mark(C)] == handover.mark_of(values[names.erp_cursor(C)])
    w.user_erp_create(C, contact(3))
    await read(w)
    assert (await run(w)).state is RunState.SUCCEEDED       # this listing began after: hands over
    values = (await w.state.get_cursors(w.mailbox.email)).values
    assert values[names.erp_cursor(C)] == feed.FOLLOWS and names.erp_feed_mark(C) not in values
    assert sorted(i.record.first_name for i in w.mailbox_items(C)) == ["F0", "F3"]
    # its routed copy of that change (routed before the listing began) was superseded by it
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []
    assert (await run(w)).state is RunState.SUCCEEDED


async def test_a_change_routed_before_a_full_listing_is_not_consumed_again_after_the_hand_over() -> None:
    """One-way ERP -> mailbox: the user deleted a mailbox twin (the run unlinks, the ERP record
    stays) while its ERP record only got a new version. The full listing after an export reset
    sees that version; the copy the feed routed before it began must not re-create the item later."""
    w = world()
    w.policy = w.policy.model_copy(update={"contacts": w.policy.contacts.model_copy(
        update={"direction": "system_to_exchange"})})
    first, second = w.user_erp_create(C, contact(1)), w.user_erp_create(C, contact(2))
    await followed(w)
    await w.state.delete_cursor(w.mailbox.email, names.erp_cursor(C))    # the admin's reset
    twin = next(i for i in w.mailbox_items(C) if i.record.first_name == "F1")
    w.mbx.user_delete(w.mailbox.email, twin.id)
    w.erp.touch(first)
    assert (await read(w)).mailboxes == {w.mailbox.email}                # routed during the own-listing mode
    assert (await run(w)).state is RunState.SUCCEEDED                   # full listing: unlinks, hands over
    values = (await w.state.get_cursors(w.mailbox.email)).values
    assert values[names.erp_cursor(C)] == feed.FOLLOWS
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []
    applied = len(w.mbx.applied)
    assert (await run(w)).state is RunState.SUCCEEDED
    assert len(w.mbx.applied) == applied                                # a second run writes nothing
    assert [i.record.first_name for i in w.mailbox_items(C)] == ["F2"]
    links = (await w.state.list_links(w.mailbox.email, C, None, 10)).items
    assert {link.erp_id for link in links if isinstance(link, Link)} == {second}


async def test_a_change_routed_while_a_full_listing_runs_is_consumed_after_the_hand_over() -> None:
    """The listing may have passed the record before the change: the row routed after it began stays."""
    w = world()
    w.user_erp_create(C, contact(0))
    late = w.user_erp_create(C, contact(1))
    await followed(w)
    await w.state.delete_cursor(w.mailbox.email, names.erp_cursor(C))
    original = w.erp.list_changes

    async def the_feed_routes_as_the_listing_begins(*args: Any, **kwargs: Any) -> Any:
        w.erp.list_changes = original  # type: ignore[method-assign]
        page = await original(*args, **kwargs)  # the listing's first page: the record as it was
        record = next(i for i in w.erp_items(C) if i.id == late).record
        w.erp.user_update(late, record.with_fields({"first_name": "F1b"}))
        await read(w)
        return page

    w.erp.list_changes = the_feed_routes_as_the_listing_begins  # type: ignore[method-assign]
    assert (await run(w)).state is RunState.SUCCEEDED
    assert [c.erp_id for c in await w.state.list_routed(w.mailbox.email, C, 10)] == [late]
    assert (await run(w)).state is RunState.SUCCEEDED
    assert sorted(i.record.first_name for i in w.mailbox_items(C)) == ["F0", "F1b"]
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []


async def test_a_listing_that_starts_where_the_marked_one_ended_drops_what_was_routed_before_it() -> None:
    """The feed switched off and on again: the first own listing marks, the next starts fresh from
    the marked cursor and hands over. A twin deleted (one-way ERP -> mailbox) and its record bumped
    in between: that listing sees the bump and unlinks; the copy routed before it must not re-create it."""
    w = world()
    w.policy = w.policy.model_copy(update={"contacts": w.policy.contacts.model_copy(
        update={"direction": "system_to_exchange"})})
    first, second = w.user_erp_create(C, contact(1)), w.user_erp_create(C, contact(2))
    await followed(w)
    w.erp.touch(second)
    assert (await sync_mailbox(mailbox=w.mailbox, server=w.server, policy=w.policy, mailbox_gateway=w.mbx,
                               erp_gateway=w.erp, state=w.state, clock=w.clock, run_id="off",
                               record_types=(C,), feed=False)).state is RunState.SUCCEEDED  # the feed off
    assert (await read(w)).mailboxes == {w.mailbox.email}      # on again: routes the bump since its watermark
    assert (await run(w)).state is RunState.SUCCEEDED          # own cursor from before: lists and marks
    values = (await w.state.get_cursors(w.mailbox.email)).values
    assert values[names.erp_feed_mark(C)] == handover.mark_of(values[names.erp_cursor(C)])
    twin = next(i for i in w.mailbox_items(C) if i.record.first_name == "F1")
    w.mbx.user_delete(w.mailbox.email, twin.id)
    w.erp.touch(first)
    assert (await read(w)).mailboxes == {w.mailbox.email}
    assert (await run(w)).state is RunState.SUCCEEDED          # fresh: drops both rows, unlinks, hands over
    assert (await w.state.get_cursors(w.mailbox.email)).values[names.erp_cursor(C)] == feed.FOLLOWS
    assert await w.state.list_routed(w.mailbox.email, C, 10) == []
    applied = len(w.mbx.applied)
    assert (await run(w)).state is RunState.SUCCEEDED
    assert len(w.mbx.applied) == applied
    assert [i.record.first_name for i in w.mailbox_items(C)] == ["F2"]
