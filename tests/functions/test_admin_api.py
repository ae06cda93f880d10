"""Admin API: every route, called through its registered user function against Azurite."""

from __future__ import annotations

from datetime import timedelta

from shared.domain.records import RecordType
from shared.domain.status import LogEntry, LogLevel, RunState
from shared.ports import RoutedChange
from tests.functions.conftest import Env, call_http, field_errors


async def test_policy_lifecycle_with_defaults_etags_and_field_errors(env: Env) -> None:
    status, body, resp = await call_http("admin_policies", "POST", "policies", {"name": "sales"})
    assert status == 201
    assert body["conflict_resolution"] == "last_updated" and body["emails"]["folder"] == "ERP"
    assert body["category"] == {"name": "ERP", "color": "preset7"} and body["contacts"]["filter"] == "owner"
    etag = resp.headers["ETag"]

    status, body, _ = await call_http("admin_policies", "POST", "policies", {"name": "sales"})
    assert status == 409

    status, body, _ = await call_http("admin_policies", "POST", "policies",
                                      {"name": "x", "contacts": {"direction": "sideways", "colour": 1}})
    assert status == 400
    assert set(field_errors(body)) == {"contacts.direction", "contacts.colour"}
    assert "unknown field" in field_errors(body)["contacts.colour"]

    route = {"name": "sales"}
    status, body, _ = await call_http("admin_policies_name", "PUT", "policies/sales",
                                      {"conflict_resolution": "system"}, route=route, headers={"If-Match": etag})
    assert status == 200 and body["conflict_resolution"] == "system"
    status, body, _ = await call_http("admin_policies_name", "PUT", "policies/sales",
                                      {"conflict_resolution": "exchange"}, route=route, headers={"If-Match": etag})
    assert status == 412
    status, body, _ = await call_http("admin_policies_name", "PUT", "policies/sales", {"name": "other"},
                                      route=route)
    assert status == 400 and "name" in field_errors(body)

    status, body, _ = await call_http("admin_policies_name", "GET", "policies/sales", route=route)
    assert status == 200 and body["conflict_resolution"] == "system"
    status, listed, _ = await call_http("admin_policies", "GET", "policies")
    assert [p["name"] for p in listed] == ["sales"]

    status, _, _ = await call_http("admin_policies_name", "DELETE", "policies/sales", route=route)
    assert status == 204
    status, body, _ = await call_http("admin_policies_name", "GET", "policies/sales", route=route)
    assert status == 404 and body["error"] == "not_found"


async def test_server_and_mailbox_routes(env: Env) -> None:
    status, body, _ = await call_http("admin_servers", "POST", "servers", {"name": "m365", "default_policy": "nope"})
    assert status == 400 and "default_policy" in field_errors(body)
    status, body, _ = await call_http("admin_servers", "POST", "servers", {"name": "m365", "tenant": "x"})
    assert status == 400 and "tenant" in field_errors(body)
    status, body, _ = await call_http("admin_servers", "POST", "servers", {"name": "m365"})
    assert status == 201
    assert body["update_batch_size"] == 25 and body["select_batch_size"] == 100
    assert body["max_attachment_kb"] == 10240 and body["graph_base_url"] == "https://graph.microsoft.com/v1.0"

    srv = {"name": "m365"}
    mb = {"name": "m365", "email": "Ann@Contoso.com"}
    status, body, _ = await call_http("admin_servers_name_mailboxes_email", "PUT",
                                      "servers/m365/mailboxes/Ann@Contoso.com", {"employee_id": "EP1", "x": 1},
                                      route=mb)
    assert status == 400 and set(field_errors(body)) == {"x"}
    status, body, _ = await call_http("admin_servers_name_mailboxes_email", "PUT",
                                      "servers/m365/mailboxes/Ann@Contoso.com",
                                      {"employee_id": "EP1", "policy": "ghost"}, route=mb)
    assert status == 400 and "policy" in field_errors(body)
    status, body, _ = await call_http("admin_servers_name_mailboxes_email", "PUT",
                                      "servers/m365/mailboxes/Ann@Contoso.com",
                                      {"employee_id": "EP1", "employee_name": "Ann"}, route=mb)
    assert status == 201 and body["email"] == "ann@contoso.com" and body["sync"] is True

    status, listed, _ = await call_http("admin_servers_name_mailboxes", "GET", "servers/m365/mailboxes", route=srv)
    assert [m["email"] for m in listed] == ["ann@contoso.com"] and listed[0]["status"] is None

    status, body, _ = await call_http("admin_servers_name", "DELETE", "servers/m365", route=srv)
    assert status == 400 and "mailbox" in field_errors(body)["name"]
    waiting = [RoutedChange("ann@contoso.com", t, f"id-{i}", "v1") for t in (RecordType.CONTACT, RecordType.TASK)
               for i in range(120)]  # more than one page of them
    await env.store.put_routed([*waiting, RoutedChange("bob@contoso.com", RecordType.CONTACT, "id-0", "v1")])
    status, _, _ = await call_http("admin_servers_name_mailboxes_email", "DELETE",
                                   "servers/m365/mailboxes/ann@contoso.com",
                                   route={"name": "m365", "email": "ann@contoso.com"})
    assert status == 204
    assert await env.store.list_mailbox_routed("ann@contoso.com", 10) == []  # its waiting changes dropped
    assert len(await env.store.list_mailbox_routed("bob@contoso.com", 10)) == 1  # another mailbox's stay
    status, _, _ = await call_http("admin_servers_name", "DELETE", "servers/m365", route=srv)
    assert status == 204


async def test_initialize_creates_categories_and_folders(env: Env) -> None:
    await env.seed("ann@contoso.com", "bob@contoso.com")
    status, body, _ = await call_http("admin_servers_name_initialize", "POST", "servers/main/initialize",
                                      {"mailboxes": ["ann@contoso.com"]}, route={"name": "main"})
    assert status == 200 and body["mailboxes"][0]["ok"] is True
    assert set(body["mailboxes"][0]["containers"]) == {"contact", "email", "task", "event"}
    assert len(body["mailboxes"]) == 1
    status, body, _ = await call_http("admin_servers_name_initialize", "POST", "servers/main/initialize",
                                      {"mailboxes": ["zed@contoso.com"]}, route={"name": "main"})
    assert status == 400 and "mailboxes" in field_errors(body)
    status, body, _ = await call_http("admin_servers_name_test", "POST", "servers/main/test", route={"name": "main"})
    assert status == 200 and body["ok"] is True and len(body["findings"]) == 2


async def test_sync_request_queues_base64_messages_and_marks_queued(env: Env) -> None:
    await env.seed("ann@contoso.com", "bob@contoso.com")
    status, body, _ = await call_http("admin_sync", "POST", "sync", {"mailboxes": ["ann@contoso.com"],
                                                                     "types": ["contact"]})
    assert status == 202 and body["queued"] == ["ann@contoso.com"]
    messages = await env.messages()
    assert [(m.mailbox, m.run_id, m.record_types) for m in messages] == [
        ("ann@contoso.com", body["run_id"], (RecordType.CONTACT,))]
    status, st, _ = await call_http("admin_mailboxes_email_status", "GET", "mailboxes/ann@contoso.com/status",
                                    route={"email": "ann@contoso.com"})
    assert st["last_run"]["state"] == "queued" and st["last_run"]["run_id"] == body["run_id"]

    status, body, _ = await call_http("admin_sync", "POST", "sync", {"all": True})
    assert status == 202 and sorted(body["queued"]) == ["ann@contoso.com", "bob@contoso.com"]
    assert len(await env.messages()) == 2
    status, body, _ = await call_http("admin_sync", "POST", "sync", {"all": True, "policy": "other"})
    assert status == 202 and body["queued"] == []
    status, body, _ = await call_http("admin_sync", "POST", "sync", {"mailboxes": ["nobody@contoso.com"]})
    assert status == 400 and "mailboxes" in field_errors(body)
    status, body, _ = await call_http("admin_sync", "POST", "sync", {})
    assert status == 400


async def test_status_reset_rewinds_cursors_and_dates(env: Env) -> None:
    await env.seed("ann@contoso.com")
    for name in ("contact.erp", "contact.mailbox", "task.erp"):
        await env.store.put_cursor("ann@contoso.com", name, "token")
    route = {"email": "ann@contoso.com"}
    status, body, _ = await call_http("admin_mailboxes_email_status_reset", "POST",
                                      "mailboxes/ann@contoso.com/status/reset",
                                      {"type": "contact", "direction": "export", "since": "2026-01-01T00:00:00Z"},
                                      route=route)
    assert status == 200 and body["export_dates"] == {"contact": "2026-01-01T00:00:00+00:00"}
    assert (await env.store.get_cursor("ann@contoso.com", "contact.erp")) is None
    assert (await env.store.get_cursor("ann@contoso.com", "contact.mailbox")) is not None
    status, body, _ = await call_http("admin_mailboxes_email_status_reset", "POST",
                                      "mailboxes/ann@contoso.com/status/reset", {"direction": "import"}, route=route)
    assert status == 200
    assert (await env.store.get_cursor("ann@contoso.com", "contact.mailbox")) is None
    assert (await env.store.get_cursor("ann@contoso.com", "task.erp")) is not None
    status, body, _ = await call_http("admin_mailboxes_email_status_reset", "POST",
                                      "mailboxes/ann@contoso.com/status/reset", {"direction": "sideways"},
                                      route=route)
    assert status == 400 and "direction" in field_errors(body)


async def test_log_paging_filter_clear_and_reset_warning(env: Env) -> None:
    await env.seed("ann@contoso.com")
    base = env.clock.now()
    entries = [LogEntry(LogLevel.WARNING if i % 2 else LogLevel.INFORMATIONAL, base + timedelta(seconds=i),
                        f"line {i}") for i in range(7)]
    await env.store.append_log("ann@contoso.com", entries)
    route = {"email": "ann@contoso.com"}
    status, page, _ = await call_http("admin_mailboxes_email_log", "GET", "mailboxes/ann@contoso.com/log",
                                      route=route, params={"level": "warning", "limit": "2"})
    assert status == 200 and [e["message"] for e in page["entries"]] == ["line 5", "line 3"]
    assert page["next_cursor"]
    status, page2, _ = await call_http("admin_mailboxes_email_log", "GET", "mailboxes/ann@contoso.com/log",
                                       route=route, params={"level": "warning", "limit": "2",
                                                            "cursor": page["next_cursor"]})
    assert [e["message"] for e in page2["entries"]] == ["line 1"]
    status, body, _ = await call_http("admin_mailboxes_email_log", "GET", "mailboxes/ann@contoso.com/log",
                                      route=route, params={"level": "loud"})
    assert status == 400 and "level" in field_errors(body)
    status, body, _ = await call_http("admin_mailboxes_email_log", "DELETE", "mailboxes/ann@contoso.com/log",
                                      route=route)
    assert status == 200 and body["deleted"] == 7

    from shared.admin.status import set_warning
    await set_warning(env.store, "ann@contoso.com", "something broke")
    status, body, _ = await call_http("admin_mailboxes_email_reset_warning", "POST",
                                      "mailboxes/ann@contoso.com/reset-warning", route=route)
    assert status == 200 and body["warning"] is None
    stored = await env.store.get_status("ann@contoso.com")
    assert stored is not None and stored.value.warning is None
    assert stored.value.last_run is None or stored.value.last_run.state is not RunState.SUCCEEDED


async def test_unknown_mailbox_routes_answer_404(env: Env) -> None:
    route = {"email": "ghost@contoso.com"}
    for name, method, path in [("admin_mailboxes_email_status", "GET", "status"),
                               ("admin_mailboxes_email_log", "GET", "log"),
                               ("admin_mailboxes_email_reset_warning", "POST", "reset-warning")]:
        status, _body, _ = await call_http(name, method, f"mailboxes/ghost@contoso.com/{path}", route=route)
        assert status == 404, name


async def test_openapi_describes_every_route(env: Env) -> None:
    from shared.admin.api import ROUTES
    from shared.admin.openapi import document_path

    status, doc, _ = await call_http("admin_openapi", "GET", "openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    for route in ROUTES:
        op = doc["paths"][document_path(route.template)][route.method.lower()]
        assert op["operationId"] == route.name
    for extra in ("/graph/notifications", "/graph/lifecycle", "/erp/notifications"):
        assert "post" in doc["paths"][extra]
    policy = doc["components"]["schemas"]["SyncPolicy"]
    assert policy["additionalProperties"] is False and "conflict_resolution" in policy["properties"]
    assert "ServerConfig" in doc["components"]["schemas"]
