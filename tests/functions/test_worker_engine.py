"""The worker with the real engine (shared.sync.run) over the in-memory gateway twins and Azurite state."""

from __future__ import annotations

from shared.admin.queue import SyncRequest
from shared.domain.config import SyncPolicy
from shared.domain.records import Contact, RecordType
from shared.domain.status import RunState
from shared.sync.run import sync
from tests.functions.conftest import Env, queue_message, user_function


async def test_queue_message_runs_the_engine_both_ways(env: Env) -> None:
    env.rt.engine = sync  # the real engine
    policy = SyncPolicy(name="p", contacts={"sync_without_category": True}, emails={"enabled": False},
                        tasks={"enabled": False}, events={"enabled": False})
    await env.seed("ann@contoso.com", policy=policy)  # employee id EP0000
    env.erp.user_create(RecordType.CONTACT, Contact(first_name="Ada", last_name="Lovelace",
                                                    email="ada@example.com"), owner="EP0000")
    folder = await env.graph.ensure_container("ann@contoso.com", RecordType.CONTACT, None)
    env.graph.user_create("ann@contoso.com", RecordType.CONTACT, folder,
                          Contact(first_name="Grace", last_name="Hopper", email="grace@example.com"))

    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-real")))

    stored = await env.store.get_status("ann@contoso.com")
    assert stored is not None and stored.value.last_run is not None
    assert stored.value.last_run.state is RunState.SUCCEEDED, stored.value.last_run.message
    assert RecordType.CONTACT in stored.value.export_dates and RecordType.CONTACT in stored.value.import_dates
    in_mailbox = {i.record.email for i in env.graph.items("ann@contoso.com", RecordType.CONTACT)}
    in_erp = {i.record.email for i in env.erp.items(RecordType.CONTACT)}
    assert in_mailbox == in_erp == {"ada@example.com", "grace@example.com"}
    assert env.erp.closed  # the worker closed the ERP gateway (Acumatica: logged out)
