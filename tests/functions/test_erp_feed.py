"""The tenant ERP change feed in the application: the schedule tick reads it once and queues by it;
a run an admin asked for reads it first. The worker and the timer as user functions on Azurite."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from shared.admin import pending
from shared.admin.enqueue import enqueue_syncs
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import Contact, RecordType
from shared.sync.feed import FOLLOWS
from tests.functions.conftest import Env, queue_message, timer, user_function

C = RecordType.CONTACT
CONTACTS = SyncPolicy(name="contacts", emails={"enabled": False}, tasks={"enabled": False}, events={"enabled": False})


async def tenant(env: Env) -> None:
    await env.store.put_policy(CONTACTS, force=True)
    await env.store.put_server(ServerConfig(name="main", schedule="0 */10 * * * *", default_policy="contacts"),
                               force=True)
    await env.store.put_server(ServerConfig(name="yearly", schedule="0 0 0 1 1 *", default_policy="contacts"),
                               force=True)
    for email, server, employee in (("a@contoso.com", "main", "EP1"), ("b@contoso.com", "main", "EP2"),
                                    ("c@contoso.com", "yearly", "EP3")):
        await env.store.put_mailbox(Mailbox(email=email, server=server, employee_id=employee), force=True)


async def test_the_tick_reads_the_feed_once_and_queues_who_got_changes(env: Env) -> None:
    await tenant(env)
    await user_function("schedule")(timer())  # first tick: every server due; the feed starts
    assert sorted(m.mailbox for m in await env.messages()) == ["a@contoso.com", "b@contoso.com", "c@contoso.com"]
    assert await env.store.get_feed_cursor(C) is not None
    for owner in ("EP1", "EP3", "EP9"):
        env.erp.user_create(C, Contact(first_name=owner), owner=owner)
    calls = env.erp.faults.calls
    env.clock.current += timedelta(minutes=10)  # main is due again, yearly is not
    for email in ("a@contoso.com", "b@contoso.com", "c@contoso.com"):
        await pending.clear(env.store, email)  # the earlier runs finished
    await user_function("schedule")(timer())
    assert env.erp.faults.calls - calls == 1  # one listing of the only type the tenant syncs
    queued = {m.mailbox: (m.reason, m.record_types) for m in await env.messages()}
    assert queued == {"a@contoso.com": ("schedule", None), "b@contoso.com": ("schedule", None),
                      "c@contoso.com": ("erp-feed", (C,))}   # c's server is not due: only its change
    routed = {e: [r.erp_id for r in await env.store.list_routed(e, C, 10)] for e in queued}
    owners = {item.id: item.owner for item in env.erp.items(C)}
    assert {e: [owners[i] for i in ids] for e, ids in routed.items()} == {
        "a@contoso.com": ["EP1"], "b@contoso.com": [], "c@contoso.com": ["EP3"]}


async def test_a_manual_run_reads_the_feed_first_a_scheduled_one_only_consumes(env: Env) -> None:
    await tenant(env)
    await user_function("schedule")(timer())
    await env.messages()
    env.erp.user_create(C, Contact(first_name="New"), owner="EP2")
    mailbox = (await env.store.get_mailbox("b@contoso.com"))
    assert mailbox is not None
    for reason, reads in (("schedule", 0), ("manual", 1)):
        await pending.clear(env.store, "b@contoso.com")
        await enqueue_syncs(env.rt, [mailbox.value], reason=reason)
        [message] = await env.messages()
        calls = env.erp.faults.calls
        await user_function("sync_worker")(queue_message(message))
        assert env.erp.faults.calls - calls == reads, reason
        assert env.engine.calls[-1]["feed"] is True
    assert len(await env.store.list_routed("b@contoso.com", C, 10)) == 1  # the manual run's read routed it


async def test_a_deleted_mailbox_lists_its_erp_side_in_full_when_added_again(env: Env) -> None:
    from tests.functions.conftest import call_http

    await tenant(env)
    book = await env.store.get_cursors("a@contoso.com")
    values = {"contact.erp": FOLLOWS, "contact.mailbox": "delta-1", "task.erp": "own-watermark"}
    await env.store.put_cursors(dataclasses.replace(book, values=values))
    status, _, _ = await call_http("admin_servers_name_mailboxes_email", "DELETE",
                                   "servers/main/mailboxes/a@contoso.com",
                                   route={"name": "main", "email": "a@contoso.com"})
    assert status == 204
    # while it is gone nothing is routed to it: the types that followed the feed start over
    assert (await env.store.get_cursors("a@contoso.com")).values == {"contact.mailbox": "delta-1",
                                                                     "task.erp": "own-watermark"}
