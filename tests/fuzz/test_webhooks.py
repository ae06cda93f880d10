"""The three webhooks fuzzed over HTTP against the local host, as a stranger would call them.

Malformed JSON, wrong types in every field, 5 MB bodies, unknown subscriptions, replays and markup in
``validationToken``: every answer is 2xx or 4xx, never 5xx; nothing is queued or stored for a request
that does not carry the route's secret; the handshake echoes as text/plain with nosniff.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.admin.notifications import ERP_SECRET_HEADER, SUBSCRIPTIONS
from shared.domain.config import Mailbox, ServerConfig
from shared.domain.records import RecordType
from tests.functions.conftest import CLIENT_STATE, ERP_SECRET
from tests.fuzz.conftest import LiveHost

ANN = "ann@contoso.com"
SUB = "sub-ann"


@dataclasses.dataclass(frozen=True)
class Webhook:
    """A webhook route: ``valid(secret_ok)`` builds a request body that the route would act upon."""

    headers: Callable[[bool], dict[str, str]]
    valid: Callable[[bool], dict[str, Any]]


def _graph(event: str | None) -> Callable[[bool], dict[str, Any]]:
    def body(secret_ok: bool) -> dict[str, Any]:
        item = {"subscriptionId": SUB, "clientState": CLIENT_STATE if secret_ok else "forged",
                "changeType": "created", "resource": f"Users/{ANN}/Messages/1", "tenantId": "t"}
        return {"value": [{**item, "lifecycleEvent": event} if event else item]}
    return body


def _erp(secret_ok: bool) -> dict[str, Any]:
    return {"Query": "exsync-contacts", "CompanyId": "Company", "Id": "f00d", "TimeStamp": 5,
            "Inserted": [{"ContactID": "1", "Owner": "EP0000", "Email": ANN}], "Deleted": []}


def _no_headers(secret_ok: bool) -> dict[str, str]:
    return {}


WEBHOOKS: dict[str, Webhook] = {
    "graph/notifications": Webhook(_no_headers, _graph(None)),
    "graph/lifecycle": Webhook(_no_headers, _graph("missed")),
    "erp/notifications": Webhook(lambda ok: {ERP_SECRET_HEADER: ERP_SECRET if ok else "forged"}, _erp),
}
FIELDS = ("subscriptionId", "clientState", "changeType", "resource", "tenantId", "lifecycleEvent", "resourceData",
          "subscriptionExpirationDateTime")
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
FUZZ = {"derandomize": True, "deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}


@pytest.fixture(scope="module")
def seeded(live_host: LiveHost) -> LiveHost:
    async def seed() -> None:
        await live_host.store.put_server(ServerConfig(name="main"), force=True)
        await live_host.store.put_mailbox(Mailbox(email=ANN, server="main", employee_id="EP0000"), force=True)
        await live_host.store.put_doc(SUBSCRIPTIONS, SUB, {"mailbox": ANN, "record_type": RecordType.EMAIL.value,
                                                           "server": "main", "resource": "x", "expires_at": ""})
    live_host.run(seed())
    return live_host


def _state(host: LiveHost) -> tuple[int, Any, Any, Any]:
    """What a request could change: the queue, the mailbox status, its pending mark, the subscription."""
    async def read() -> tuple[Any, Any, Any]:
        return (await host.store.get_status(ANN), await host.store.list_docs("erp_push", ""),
                await host.store.get_doc(SUBSCRIPTIONS, SUB))
    status, pushes, sub = host.run(read())
    return host.queued(), status, pushes, sub


def _post(host: LiveHost, route: str, *, body: bytes, headers: dict[str, str] | None = None,
          params: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(f"{host.api}/{route}", content=body, params=params,
                           headers={"content-type": "application/json", **(headers or {})})


def _stranger(host: LiveHost, route: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    """Post as a stranger: the answer is 2xx/4xx with nosniff and nothing changed."""
    before = _state(host)
    resp = _post(host, route, body=body, headers=headers)
    assert resp.status_code < 500, (route, resp.status_code, resp.text[:300])
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    if resp.status_code >= 400:
        answer = resp.json()
        assert set(answer) == {"error", "message", "fields"}, answer
    assert _state(host) == before, f"{route}: an unauthenticated request changed state"
    return resp


ROUTES = sorted(WEBHOOKS)


@pytest.mark.parametrize("route", ROUTES)
@settings(max_examples=15, **FUZZ)
@given(body=st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_from_a_stranger_is_refused_or_ignored(seeded: LiveHost, route: str, body: bytes) -> None:
    _stranger(seeded, route, body, WEBHOOKS[route].headers(False))


@pytest.mark.parametrize("route", ROUTES)
@settings(max_examples=12, **FUZZ)
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_wrong_types_in_every_field_are_4xx_or_ignored(seeded: LiveHost, route: str, field: str,
                                                       value: Any) -> None:
    hook = WEBHOOKS[route]
    body = hook.valid(False)
    if "value" in body:
        body["value"][0][field] = value
    else:
        body[field if field in body else "TimeStamp"] = value
    _stranger(seeded, route, json.dumps(body).encode(), hook.headers(False))


@pytest.mark.parametrize("route", ROUTES)
def test_5_mb_bodies_are_never_5xx_and_without_effect_from_strangers(seeded: LiveHost, route: str) -> None:
    hook = WEBHOOKS[route]
    big = hook.valid(True)
    big["padding"] = "x" * (5 * 1024 * 1024)
    resp = _stranger(seeded, route, json.dumps(big).encode(), hook.headers(False))
    assert resp.status_code in (403, 413), resp.text[:200]
    resp = _post(seeded, route, body=json.dumps(big).encode(), headers=hook.headers(True))
    assert resp.status_code < 500, resp.text[:200]
    if route.startswith("graph/"):  # Graph never sends a notification body that large
        assert resp.status_code == 413 and resp.json()["fields"][0]["field"] == "(body)"


@pytest.mark.parametrize("route", ["graph/notifications", "graph/lifecycle"])
@pytest.mark.parametrize("token", ["<script>alert(1)</script>", "' onload='x", "a\u202eb", "Validation: tok 1"])
def test_handshake_echoes_markup_as_plain_text_and_changes_nothing(seeded: LiveHost, route: str, token: str) -> None:
    before = _state(seeded)
    resp = _post(seeded, route, body=json.dumps(WEBHOOKS[route].valid(True)).encode(),
                 params={"validationToken": token})
    assert resp.status_code == 200 and resp.text == token
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert _state(seeded) == before


def test_unknown_subscriptions_with_the_right_client_state_queue_nothing(seeded: LiveHost) -> None:
    body = {"value": [{"subscriptionId": f"ghost-{n}/#?\\", "clientState": CLIENT_STATE, "changeType": "created"}
                      for n in range(50)]}
    resp = _stranger(seeded, "graph/notifications", json.dumps(body).encode())
    assert resp.status_code == 202


def test_replayed_notifications_queue_one_sync_for_the_mailbox(seeded: LiveHost) -> None:
    body = json.dumps(WEBHOOKS["graph/notifications"].valid(True)).encode()
    before = seeded.queued()
    for _ in range(5):
        assert _post(seeded, "graph/notifications", body=body).status_code == 202
    assert seeded.queued() == before + 1  # replays coalesce into the waiting request


def test_erp_push_with_a_text_timestamp_and_the_secret_is_a_400_naming_it(seeded: LiveHost) -> None:
    body = {**_erp(True), "TimeStamp": "yesterday", "Deleted": [{"ContactID": "1", "Owner": "EP0000"}]}
    before = _state(seeded)
    resp = _post(seeded, "erp/notifications", body=json.dumps(body).encode(), headers=WEBHOOKS[
        "erp/notifications"].headers(True))
    assert resp.status_code == 400, resp.text
    assert [f["field"] for f in resp.json()["fields"]] == ["TimeStamp"]
    assert _state(seeded) == before
