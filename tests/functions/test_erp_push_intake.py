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
