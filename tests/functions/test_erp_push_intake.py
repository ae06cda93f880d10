"""ERP push intake: parsed once into typed removals, handed to the engine, acknowledged per type."""

from __future__ import annotations

from shared.admin.notifications import ERP_SECRET_HEADER
from shared.admin.queue import SyncRequest
from shared.domain.records import RecordType
from tests.functions.conftest import ERP_SECRET, Env, call_http, field_errors, queue_message, user_function

HEADERS = {ERP_SECRET_HEADER: ERP_SECRET}


async def test_a_text_timestamp_is_a_400_naming_the_field(env: Env) -> None:
    await env.seed("ann@contoso.com")
    push = {"Query": "Contact", "Id": "tx", "TimeStamp": "yesterday", "Inserted": [],
            "Deleted": [{"NoteID": {"value": "8a1f"}, "Owner": {"value": "EP0000"}}]}
    status, body, _ = await call_http("erp_notifications", "POST", "erp/notifications", push, headers=HEADERS)
    assert status == 400 and "TimeStamp" in field_errors(body), body
    assert await env.store.list_docs("erp_push") == [] and await env.messages() == []
    numeric_text = {**push, "TimeStamp": "638700000000000000"}  # Acumatica may send the long as text
    status, _, _ = await call_http("erp_notifications", "POST", "erp/notifications", numeric_text, headers=HEADERS)
    assert status == 202


async def test_a_custom_query_name_reaches_the_run_as_that_types_removals(env: Env) -> None:
    await env.seed("ann@contoso.com")  # employee EP0000
    push = {"Query": "exsync-tasks", "Id": "tx-9", "TimeStamp": 9, "Inserted": [],
            "Deleted": [{"NoteID": {"value": "AB12"}, "Owner": {"value": "EP0000"}}]}
    status, _, _ = await call_http("erp_notifications", "POST", "erp/notifications", push, headers=HEADERS)
    assert status == 202
    [request] = await env.messages()
    assert request.record_types == (RecordType.TASK,)
    [(_key, kept)] = await env.store.list_docs("erp_push", "ann@contoso.com|")
    assert kept.value["record_type"] == "task" and kept.value["removed"] == ["ab12"]

    await user_function("sync_worker")(queue_message(request))
    [call] = env.engine.calls
    assert call["record_types"] == (RecordType.TASK,) and call["removals"].of(RecordType.TASK) == ("ab12",)
    assert await env.store.list_docs("erp_push", "ann@contoso.com|") == []  # acknowledged after the run


async def test_removals_of_a_type_the_run_did_not_sync_stay_kept(env: Env) -> None:
    await env.seed("ann@contoso.com")
    push = {"Query": "Task", "Id": "tx-1", "TimeStamp": 1, "Inserted": [],
            "Deleted": [{"NoteID": {"value": "cd34"}, "Owner": {"value": "EP0000"}}]}
    from shared.admin import erp_pushes
    from shared.erp.push import parse_push

    await erp_pushes.keep(env.store, ["ann@contoso.com"], parse_push(push))  # kept, no request waiting
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-c", "manual",
                                                                 (RecordType.CONTACT,))))
    assert env.engine.calls[0]["removals"].of(RecordType.TASK) == ("cd34",)
    assert len(await env.store.list_docs("erp_push", "ann@contoso.com|")) == 1  # for a run that syncs tasks


def _deleted(note_id: str, push_id: str, stamp: int) -> dict:  # type: ignore[type-arg]
    return {"Query": "Task", "Id": push_id, "TimeStamp": stamp, "Inserted": [],
            "Deleted": [{"NoteID": {"value": note_id}, "Owner": {"value": "EP0000"}}]}


async def test_a_run_lists_kept_removals_only_when_the_waiting_document_says_some_wait(env: Env) -> None:
    from shared.admin import erp_pushes
    from shared.erp.push import parse_push

    await env.seed("ann@contoso.com")
    listed: list[str] = []
    read = env.store.list_docs

    async def counting(kind: str, prefix: str = ""):  # type: ignore[no-untyped-def]
        if kind == erp_pushes.KIND:
            listed.append(prefix)
        return await read(kind, prefix)

    env.store.list_docs = counting  # type: ignore[method-assign]
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-1", "manual")))
    assert len(listed) == 1  # a document from before the counters: listed once, then recorded as seen
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-2", "manual")))
    assert len(listed) == 1  # nothing was kept since: no query
    await erp_pushes.keep(env.store, ["ann@contoso.com"], parse_push(_deleted("ab12", "tx-1", 1)))
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-3", "manual")))
    assert len(listed) == 2 and env.engine.calls[-1]["removals"].of(RecordType.TASK) == ("ab12",)
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-4", "manual")))
    assert len(listed) == 2 and not env.engine.calls[-1]["removals"]


async def test_a_removal_kept_during_a_run_is_listed_by_the_next_run(env: Env) -> None:
    """The race: the run listed, then a push kept another removal and bumped the counter; the
    run's last look records only the count it read, so the new removal is not hidden."""
    from shared.admin import erp_pushes
    from shared.erp.push import parse_push

    await env.seed("ann@contoso.com")
    await erp_pushes.keep(env.store, ["ann@contoso.com"], parse_push(_deleted("ab12", "tx-1", 1)))

    async def a_push_during_the_run(kwargs):  # type: ignore[no-untyped-def]
        if len(env.engine.calls) == 1:
            await erp_pushes.keep(env.store, ["ann@contoso.com"], parse_push(_deleted("cd34", "tx-2", 2)))

    env.engine.hook = a_push_during_the_run
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-1", "manual")))
    assert env.engine.calls[0]["removals"].of(RecordType.TASK) == ("ab12",)
    assert len(await env.store.list_docs("erp_push", "ann@contoso.com|")) == 1  # the new one stays kept
    doc = await env.store.get_doc("pending", "ann@contoso.com")
    assert doc is not None and (doc.value["pushes"], doc.value["pushes_seen"]) == (2, 1)
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-2", "manual")))
    assert env.engine.calls[1]["removals"].of(RecordType.TASK) == ("cd34",)
    assert await env.store.list_docs("erp_push", "ann@contoso.com|") == []
    doc = await env.store.get_doc("pending", "ann@contoso.com")
    assert doc is not None and doc.value["pushes_seen"] == 2


async def test_removals_a_run_did_not_acknowledge_are_listed_again(env: Env) -> None:
    from shared.admin import erp_pushes
    from shared.erp.push import parse_push

    await env.seed("ann@contoso.com")
    await erp_pushes.keep(env.store, ["ann@contoso.com"], parse_push(_deleted("ab12", "tx-1", 1)))
    contacts_only = SyncRequest("ann@contoso.com", "run-1", "manual", (RecordType.CONTACT,))
    await user_function("sync_worker")(queue_message(contacts_only))  # tasks not synced: not acknowledged
    await user_function("sync_worker")(queue_message(SyncRequest("ann@contoso.com", "run-2", "manual")))
    assert [c["removals"].of(RecordType.TASK) for c in env.engine.calls] == [("ab12",), ("ab12",)]
    assert await env.store.list_docs("erp_push", "ann@contoso.com|") == []
