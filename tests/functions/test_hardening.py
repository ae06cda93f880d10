"""Defects found by trying the HTTP surface as a stranger and an unlucky operator would: each test
here failed before its fix. Called through the registered user functions against Azurite."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from functions._runtime import use_runtime
from shared.admin.notifications import SUBSCRIPTIONS
from shared.domain.config import ServerConfig
from shared.domain.records import RecordType
from shared.errors import ConfigurationError
from tests.functions.conftest import CLIENT_STATE, Env, call_http, field_errors

GRAPH_HOOKS = (("graph_notifications", "graph/notifications"), ("graph_lifecycle", "graph/lifecycle"))


async def _subscribe(env: Env, sub_id: str, email: str) -> None:
    await env.store.put_doc(SUBSCRIPTIONS, sub_id, {"mailbox": email, "record_type": RecordType.EMAIL.value,
                                                    "server": "main", "resource": "x", "expires_at": ""})


@pytest.mark.parametrize(("name", "path"), GRAPH_HOOKS)
@pytest.mark.parametrize(("field", "value"), [("clientState", 1), ("subscriptionId", ["s1"]),
                                              ("lifecycleEvent", {"x": 1}), ("resourceData", "text")])
async def test_graph_hooks_answer_400_naming_a_wrong_typed_field(env: Env, name: str, path: str, field: str,
                                                                 value: Any) -> None:
    await env.seed("ann@contoso.com")
    await _subscribe(env, "s1", "ann@contoso.com")
    item = {"subscriptionId": "s1", "clientState": CLIENT_STATE, "lifecycleEvent": "missed", field: value}
    status, body, resp = await call_http(name, "POST", path, {"value": [item]})
    assert status == 400, body
    assert list(field_errors(body)) == [f"value[0].{field}"] and body["error"] == "validation_failed"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert await env.messages() == []


@pytest.mark.parametrize(("name", "path"), GRAPH_HOOKS)
async def test_graph_handshake_is_plain_text_with_nosniff(env: Env, name: str, path: str) -> None:
    token = "<script>alert(1)</script>"
    status, body, resp = await call_http(name, "POST", path, params={"validationToken": token})
    assert (status, body, resp.mimetype) == (200, token, "text/plain")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def _policy_etag(name: str) -> str:
    status, _, resp = await call_http("admin_policies_name", "GET", f"policies/{name}", route={"name": name})
    assert status == 200
    return str(resp.headers["ETag"])


WRITES = [
    ("admin_policies_name", "PUT", "policies/sales", {"name": "sales"}, {"conflict_resolution": "system"}),
    ("admin_policies_name", "DELETE", "policies/sales", {"name": "sales"}, None),
    ("admin_servers_name", "PUT", "servers/main", {"name": "main"}, {"update_batch_size": 10}),
    ("admin_servers_name", "DELETE", "servers/main", {"name": "main"}, None),
]


@pytest.mark.parametrize(("fn", "method", "path", "route", "body"), WRITES)
@pytest.mark.parametrize(("if_match", "status"), [("", 400), ("   ", 400), ("garbage", 412),
                                                  ('W/"datetime\'2001-01-01T00%3A00%3A00Z\'"', 412)])
async def test_empty_or_malformed_if_match_is_4xx_naming_it_and_writes_nothing(
        env: Env, fn: str, method: str, path: str, route: dict[str, str], body: Any, if_match: str,
        status: int) -> None:
    await call_http("admin_policies", "POST", "policies", {"name": "sales"})
    await call_http("admin_servers", "POST", "servers", {"name": "main"})
    before = (await env.store.get_policy("sales"), await env.store.get_server("main"))
    got, answer, _ = await call_http(fn, method, path, body, route=route, headers={"If-Match": if_match})
    assert got == status, answer
    assert list(field_errors(answer)) == ["If-Match"]
    assert (await env.store.get_policy("sales"), await env.store.get_server("main")) == before


async def test_if_match_on_a_missing_row_is_412_and_the_current_etag_still_works(env: Env) -> None:
    status, body, _ = await call_http("admin_policies_name", "PUT", "policies/ghost", {},
                                      route={"name": "ghost"}, headers={"If-Match": '"x"'})
    assert status == 412 and await env.store.get_policy("ghost") is None, body
    await call_http("admin_policies", "POST", "policies", {"name": "sales"})
    status, _, _ = await call_http("admin_policies_name", "DELETE", "policies/sales", route={"name": "sales"},
                                   headers={"If-Match": await _policy_etag("sales")})
    assert status == 204 and await env.store.get_policy("sales") is None


async def test_405_names_the_allowed_methods_in_allow(env: Env) -> None:
    status, body, resp = await call_http("admin_policies_name", "PATCH", "policies/x", route={"name": "x"})
    assert status == 405 and resp.headers["Allow"] == "DELETE, GET, PUT"
    assert set(body) == {"error", "message", "fields"}


async def test_not_found_blames_the_path_parameter(env: Env) -> None:
    status, body, _ = await call_http("admin_servers_name_mailboxes", "GET", "servers/ghost/mailboxes",
                                      route={"name": "ghost"})
    assert status == 404 and list(field_errors(body)) == ["name"]


@pytest.mark.parametrize(("failure", "status", "code", "shown"), [
    (ConfigurationError("EXSYNC_KEY_VAULT_URL is not set; the app cannot read the server's secret"), 503,
     "configuration_error", True),  # the app's own configuration: never the caller's 400
    (KeyError("secret-looking-detail"), 500, "internal_error", False),  # a bug: no details to a caller
])
async def test_failures_of_the_app_itself_are_5xx_in_the_one_error_shape(env: Env, failure: Exception, status: int,
                                                                         code: str, shown: bool) -> None:
    async def failing(server: ServerConfig) -> Any:
        raise failure

    await env.seed("ann@contoso.com")
    use_runtime(dataclasses.replace(env.rt, mailbox_gateway=failing))
    got, body, _ = await call_http("admin_servers_name_test", "POST", "servers/main/test", route={"name": "main"})
    assert (got, body["error"], body["fields"]) == (status, code, [])
    assert (str(failure.args[0]) in body["message"]) is shown


def test_openapi_lists_every_answer_a_route_gives_and_the_mailbox_list_is_an_array() -> None:
    from shared.admin.api import ROUTES
    from shared.admin.openapi import _PUBLIC, document_path, openapi_document

    doc = openapi_document()
    for route in ROUTES:
        answers = set(doc["paths"][document_path(route.template)][route.method.lower()]["responses"])
        refusals = {"400", "404", "500", "502", "503"} | (set() if route.name in _PUBLIC else {"401"})
        assert refusals <= answers, route.name   # a public route (no key, no token) documents no 401
        assert ("409" in answers) is (route.method in ("POST", "PUT", "DELETE")), route.name
        assert ("412" in answers) is (route.method in ("PUT", "DELETE")), route.name
    listed = doc["paths"]["/servers/{name}/mailboxes"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["type"] == "array" and listed["schema"]["items"]["$ref"].endswith("/MailboxOut")
    assert "status" in doc["components"]["schemas"]["MailboxOut"]["properties"]
    assert doc["components"]["schemas"]["ErrorOut"]["required"] == ["error", "message", "fields"]
