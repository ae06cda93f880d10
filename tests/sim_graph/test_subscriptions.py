"""Subscriptions: handshake (success, wrong echo, https rule), limits, renew, delete, reauthorize,
change notifications and lifecycle notifications."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.sim_graph.conftest import IMMUTABLE, A, user


class Receiver:
    """A notification endpoint: echoes validation tokens (or not), records notifications."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.echo = True
        self.content_type = "text/plain"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if "validationToken" in query:
                    token = query["validationToken"][0] if receiver.echo else "wrong"
                    data = token.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", receiver.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                receiver.received.append(json.loads(body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    try:
        yield endpoint
    finally:
        endpoint.close()


def _in(minutes: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(receiver: Receiver, resource: str = f"users/{A}/mailFolders('inbox')/messages",
         **extra: Any) -> dict[str, Any]:
    return {"changeType": "created,updated,deleted", "notificationUrl": receiver.url, "resource": resource,
            "expirationDateTime": _in(60), "clientState": "secret-state", **extra}


def test_create_with_handshake_and_notifications(graph: httpx.Client, receiver: Receiver) -> None:
    created = graph.post("/subscriptions", json=_sub(receiver), headers=IMMUTABLE)
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["clientState"] == "secret-state" and sub["changeType"] == "created,updated,deleted"
    message = graph.post(user("/mailFolders/inbox/messages"), json={"subject": "n"}, headers=IMMUTABLE).json()
    graph.post(user("/mailFolders/drafts/messages"), json={"subject": "elsewhere"}).raise_for_status()
    graph.patch(user(f"/messages/{message['id']}"), json={"subject": "n2"}).raise_for_status()
    notes = [n for batch in receiver.wait_for(2) for n in batch["value"]]
    assert [n["changeType"] for n in notes] == ["created", "updated"]
    first = notes[0]
    assert first["subscriptionId"] == sub["id"] and first["clientState"] == "secret-state"
    assert first["resourceData"]["id"] == message["id"]
    assert first["tenantId"] and first["subscriptionExpirationDateTime"] == sub["expirationDateTime"]
    assert first["resource"].endswith(message["id"])


def test_handshake_failure_rejects_the_subscription(graph: httpx.Client, receiver: Receiver) -> None:
    receiver.echo = False
    response = graph.post("/subscriptions", json=_sub(receiver))
    assert response.status_code == 400
    assert "validation" in response.json()["error"]["message"].lower()
    unreachable = graph.post("/subscriptions", json={**_sub(receiver), "notificationUrl": "http://127.0.0.1:9/x"})
    assert unreachable.status_code == 400
    receiver.echo = True
    receiver.content_type = "application/json"
    assert graph.post("/subscriptions", json=_sub(receiver)).status_code == 400
    assert graph.get("/subscriptions").json()["value"] == []


def test_https_rule_expiry_and_client_state_limits(graph: httpx.Client, receiver: Receiver) -> None:
    remote_http = graph.post("/subscriptions", json={**_sub(receiver), "notificationUrl": "http://example.com/n"})
    assert remote_http.status_code == 400 and "https" in remote_http.json()["error"]["message"]
    too_long = graph.post("/subscriptions", json={**_sub(receiver), "expirationDateTime": _in(10_081)})
    assert too_long.status_code == 400
    state = graph.post("/subscriptions", json={**_sub(receiver), "clientState": "x" * 129})
    assert state.status_code == 400
    bad_resource = graph.post("/subscriptions", json=_sub(receiver, resource=f"users/{A}/todo/lists/x/tasks"))
    assert bad_resource.status_code == 400
    unknown = graph.post("/subscriptions", json={**_sub(receiver), "colour": "blue"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "RequestBodyRead"
    short = graph.post("/subscriptions", json={**_sub(receiver), "expirationDateTime": _in(5)}).json()
    raised = dt.datetime.fromisoformat(short["expirationDateTime"].replace("Z", "+00:00"))
    assert raised > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=40)


def test_renew_reauthorize_delete(graph: httpx.Client, receiver: Receiver) -> None:
    sub = graph.post("/subscriptions", json=_sub(receiver, resource=f"users/{A}/contacts")).json()
    later = _in(10_000)
    renewed = graph.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": later})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] == later
    assert graph.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": _in(20_000)}).status_code == 400
    assert graph.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    assert graph.delete(f"/subscriptions/{sub['id']}").status_code == 204
    assert graph.get(f"/subscriptions/{sub['id']}").status_code == 404
    graph.post(user("/contacts"), json={"givenName": "quiet"}).raise_for_status()
    time.sleep(0.3)
    assert receiver.received == []


def test_contact_and_event_changes_notify(graph: httpx.Client, receiver: Receiver) -> None:
    graph.post("/subscriptions", json=_sub(receiver, resource=f"/users/{A}/contacts",
                                           changeType="deleted")).raise_for_status()
    graph.post("/subscriptions", json=_sub(receiver, resource=f"users/{A}/events",
                                           changeType="created")).raise_for_status()
    contact = graph.post(user("/contacts"), json={"givenName": "x"}).json()
    graph.delete(user(f"/contacts/{contact['id']}")).raise_for_status()
    graph.post(user("/events"), json={"subject": "e", "start": {"dateTime": "2030-01-01T09:00:00", "timeZone": "UTC"},
                                      "end": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"}})
    notes = [n for batch in receiver.wait_for(2) for n in batch["value"]]
    kinds = sorted((n["changeType"], n["resourceData"]["@odata.type"]) for n in notes)
    assert kinds == [("created", "#Microsoft.Graph.Event"), ("deleted", "#Microsoft.Graph.Contact")]


def test_lifecycle_notifications(graph: httpx.Client, admin: httpx.Client, receiver: Receiver) -> None:
    sub = graph.post("/subscriptions", json=_sub(receiver, lifecycleNotificationUrl=receiver.url)).json()
    for event in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
        answer = admin.post("/lifecycle", json={"subscriptionId": sub["id"], "event": event})
        assert answer.status_code == 200 and answer.json()["delivered"] is True
    events = [n["value"][0]["lifecycleEvent"] for n in receiver.received]
    assert events == ["reauthorizationRequired", "missed", "subscriptionRemoved"]
    assert receiver.received[0]["value"][0]["clientState"] == "secret-state"
    assert graph.get(f"/subscriptions/{sub['id']}").status_code == 404
    assert admin.post("/lifecycle", json={"subscriptionId": sub["id"], "event": "missed"}).status_code == 404
    assert admin.post("/lifecycle", json={"subscriptionId": sub["id"], "event": "other"}).status_code == 400
