"""Graph and ERP notification endpoints, called as user functions against Azurite."""

from __future__ import annotations

from shared.admin.notifications import ERP_SECRET_HEADER, SUBSCRIPTIONS
from shared.domain.records import RecordType
from tests.functions.conftest import CLIENT_STATE, ERP_SECRET, Env, call_http


async def _subscribe(env: Env, sub_id: str, email: str, rtype: RecordType = RecordType.EMAIL) -> None:
    await env.store.put_doc(SUBSCRIPTIONS, sub_id, {"mailbox": email, "record_type": rtype.value,
                                                    "server": "main", "resource": "x", "expires_at": ""})


async def test_validation_token_is_echoed_as_plain_text(env: Env) -> None:
    for name, path in (("graph_notifications", "graph/notifications"), ("graph_lifecycle", "graph/lifecycle")):
        status, body, resp = await call_http(name, "POST", path, params={"validationToken": "Validation: tok 1"})
        assert status == 200 and body == "Validation: tok 1" and resp.mimetype == "text/plain"


async def test_notification_enqueues_targeted_sync_only_with_right_client_state(env: Env) -> None:
    await env.seed("ann@contoso.com", "bob@contoso.com")
    await _subscribe(env, "sub-ann", "ann@contoso.com")
    await _subscribe(env, "sub-bob", "bob@contoso.com")
    body = {"value": [
        {"subscriptionId": "sub-ann", "clientState": CLIENT_STATE, "changeType": "created",
         "resource": "Users/ann/Messages/1"},
        {"subscriptionId": "sub-ann", "clientState": CLIENT_STATE, "changeType": "updated",
         "resource": "Users/ann/Messages/2"},
        {"subscriptionId": "sub-bob", "clientState": "forged", "changeType": "created"},
        {"subscriptionId": "sub-unknown", "clientState": CLIENT_STATE, "changeType": "created"},
    ]}
    status, _, _ = await call_http("graph_notifications", "POST", "graph/notifications", body)
    assert status == 202
    messages = await env.messages()
    assert [(m.mailbox, m.reason, m.record_types) for m in messages] == [
        ("ann@contoso.com", "graph", (RecordType.EMAIL,))]


async def test_lifecycle_missed_resyncs_and_removed_forgets(env: Env) -> None:
    await env.seed("ann@contoso.com")
    await _subscribe(env, "s1", "ann@contoso.com")
    await _subscribe(env, "s2", "ann@contoso.com", RecordType.CONTACT)
    await _subscribe(env, "s3", "ann@contoso.com", RecordType.EVENT)
    body = {"value": [
        {"subscriptionId": "s1", "clientState": CLIENT_STATE, "lifecycleEvent": "missed"},
        {"subscriptionId": "s2", "clientState": CLIENT_STATE, "lifecycleEvent": "subscriptionRemoved"},
        {"subscriptionId": "s3", "clientState": CLIENT_STATE, "lifecycleEvent": "reauthorizationRequired"},
    ]}
    status, _, _ = await call_http("graph_lifecycle", "POST", "graph/lifecycle", body)
    assert status == 202
    assert [(m.mailbox, m.reason) for m in await env.messages()] == [("ann@contoso.com", "lifecycle")]
    assert await env.store.get_doc(SUBSCRIPTIONS, "s2") is None
    s3 = await env.store.get_doc(SUBSCRIPTIONS, "s3")
    assert s3 is not None and s3.value["renew_now"] is True


async def test_erp_notification_checks_secret_and_targets_owner(env: Env) -> None:
    await env.seed("ann@contoso.com", "bob@contoso.com")  # employee ids EP0000, EP0001
    push = {"Query": "exsync-tasks", "CompanyId": "Company", "Id": "3f1c", "TimeStamp": 1,
            "Inserted": [{"Summary": {"value": "Call"}, "Owner": {"value": "EP0001"}}], "Deleted": []}
    status, body, _ = await call_http("erp_notifications", "POST", "erp/notifications", push)
    assert status == 403 and ERP_SECRET_HEADER in body["message"]
    status, body, _ = await call_http("erp_notifications", "POST", "erp/notifications", push,
                                      headers={ERP_SECRET_HEADER: "wrong"})
    assert status == 403
    status, body, _ = await call_http("erp_notifications", "POST", "erp/notifications", push,
                                      headers={ERP_SECRET_HEADER: ERP_SECRET})
    assert status == 202 and body["queued"] == 1
    assert [(m.mailbox, m.reason, m.record_types) for m in await env.messages()] == [
        ("bob@contoso.com", "erp", (RecordType.TASK,))]
    status, body, _ = await call_http("erp_notifications", "POST", "erp/notifications", b"[",
                                      headers={ERP_SECRET_HEADER: ERP_SECRET})
    assert status == 400


async def test_erp_deletions_are_kept_for_the_mailbox_and_fed_to_its_next_run(env: Env) -> None:
    from tests.functions.conftest import queue_message, user_function

    await env.seed("ann@contoso.com")
    push = {"Query": "Contact", "Id": "tx-1", "TimeStamp": 7, "Inserted": [],
            "Deleted": [{"NoteID": {"value": "8a1f"}, "Owner": {"value": "EP0000"}}]}
    status, _, _ = await call_http("erp_notifications", "POST", "erp/notifications", push,
                                   headers={ERP_SECRET_HEADER: ERP_SECRET})
    assert status == 202
    [request] = await env.messages()
    assert request.record_types == (RecordType.CONTACT,)
    assert len(await env.store.list_docs("erp_push", "ann@contoso.com|")) == 1

    env.engine.fail = RuntimeError("crash")  # a failed run keeps the deletions for the next one
    await user_function("sync_worker")(queue_message(request))
    assert len(await env.store.list_docs("erp_push", "ann@contoso.com|")) == 1
    env.engine.fail = None
    await user_function("sync_worker")(queue_message(request))
    assert [c["removals"].of(RecordType.CONTACT) for c in env.engine.calls] == [("8a1f",), ("8a1f",)]
    assert await env.store.list_docs("erp_push", "ann@contoso.com|") == []


async def test_notifications_coalesce_while_a_request_waits(env: Env) -> None:
    from tests.functions.conftest import queue_message, user_function

    await env.seed("ann@contoso.com")  # employee id EP0000
    push = {"Query": "Contact", "Id": "tx", "TimeStamp": 1, "Deleted": [],
            "Inserted": [{"NoteID": {"value": "1"}, "Owner": {"value": "EP0000"}}]}
    headers = {ERP_SECRET_HEADER: ERP_SECRET}
    for _ in range(5):  # e.g. the echoes of one run's writes
        assert (await call_http("erp_notifications", "POST", "erp/notifications", push, headers=headers))[0] == 202
    [waiting] = await env.messages()
    # a different type is not covered by the waiting contact request
    task_push = {**push, "Query": "Task"}
    await call_http("erp_notifications", "POST", "erp/notifications", task_push, headers=headers)
    [task_request] = await env.messages()
    assert task_request.record_types == (RecordType.TASK,)
    # once the run starts, a new change needs (and gets) a new request
    await user_function("sync_worker")(queue_message(waiting))
    await call_http("erp_notifications", "POST", "erp/notifications", push, headers=headers)
    assert len(await env.messages()) == 1


async def test_a_contact_push_nobody_owns_queues_only_the_mailboxes_that_see_every_contact(env: Env) -> None:
    from shared.domain.config import Mailbox, SyncPolicy

    await env.seed("ann@contoso.com", "bob@contoso.com")  # owner filters, employee ids EP0000, EP0001
    everyone = SyncPolicy(name="everyone", contacts={"filter": "all"})
    await env.store.put_policy(everyone, force=True)
    await env.store.put_mailbox(Mailbox(email="cy@contoso.com", server="main", employee_id="EP0002",
                                        policy="everyone"), force=True)
    row = {"DisplayName": {"value": "Jo Doe"}, "Owner": {"value": "EP0099"}}
    push = {"Query": "Contact", "CompanyId": "Company", "Id": "7a", "TimeStamp": 2, "Inserted": [row], "Deleted": []}
    status, body, _ = await call_http("erp_notifications", "POST", "erp/notifications", push,
                                      headers={ERP_SECRET_HEADER: ERP_SECRET})
    assert status == 202 and body["queued"] == 1
    assert [m.mailbox for m in await env.messages()] == ["cy@contoso.com"]
    moved = {**push, "Id": "7b", "TimeStamp": 3, "Inserted": [], "Deleted": [{**row, "Owner": {"value": "EP0000"}}]}
    status, body, _ = await call_http("erp_notifications", "POST", "erp/notifications", moved,
                                      headers={ERP_SECRET_HEADER: ERP_SECRET})
    # the old row names ann as the owner: she hears of the contact that left her (cy, who sees every
    # contact, still has the first push's request waiting: coalesced)
    assert [m.mailbox for m in await env.messages()] == ["ann@contoso.com"]
