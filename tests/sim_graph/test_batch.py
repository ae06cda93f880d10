"""``$batch``: limits, relative URLs, dependsOn/424, per-item status and journal entries."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sim_graph.conftest import A, user

JSON = {"Content-Type": "application/json"}


def _post(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": str(i), "method": "POST", "url": user("/contacts"), "headers": JSON,
            "body": {"givenName": f"B{i}"}, **extra}


def test_twenty_requests_run_and_twenty_one_are_rejected(graph: httpx.Client) -> None:
    ok = graph.post("/$batch", json={"requests": [_post(i) for i in range(20)]})
    assert ok.status_code == 200
    responses = ok.json()["responses"]
    assert sorted(int(r["id"]) for r in responses) == list(range(20))
    assert {r["status"] for r in responses} == {201}
    assert responses[0]["body"]["givenName"].startswith("B")
    too_many = graph.post("/$batch", json={"requests": [_post(i) for i in range(21)]})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == "BadRequest"
    assert len(graph.get(user("/contacts"), params={"$top": 100}).json()["value"]) == 20


def test_depends_on_a_failed_request_is_424(graph: httpx.Client) -> None:
    requests = [
        {"id": "1", "method": "GET", "url": user("/contacts/does-not-exist")},
        {"id": "2", "method": "POST", "url": user("/contacts"), "headers": JSON,
         "body": {"givenName": "never"}, "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": user("/mailFolders/inbox")},
    ]
    responses = {r["id"]: r for r in graph.post("/$batch", json={"requests": requests}).json()["responses"]}
    assert responses["1"]["status"] == 404
    assert responses["2"]["status"] == 424
    assert responses["3"]["status"] == 200
    assert graph.get(user("/contacts")).json()["value"] == []


def test_depends_on_success_runs_in_order(graph: httpx.Client) -> None:
    requests = [_post(1), {**_post(2), "dependsOn": ["1"]}]
    responses = graph.post("/$batch", json={"requests": requests}).json()["responses"]
    assert [r["status"] for r in responses] == [201, 201]


def test_absolute_url_and_missing_content_type_fail_per_item(graph: httpx.Client) -> None:
    requests = [
        {"id": "abs", "method": "GET", "url": f"https://graph.microsoft.com/v1.0{user()}"},
        {"id": "noct", "method": "POST", "url": user("/contacts"), "body": {"givenName": "x"}},
        {"id": "ok", "method": "GET", "url": user()},
    ]
    responses = {r["id"]: r for r in graph.post("/$batch", json={"requests": requests}).json()["responses"]}
    assert responses["abs"]["status"] == 400
    assert responses["noct"]["status"] == 400
    assert responses["ok"]["status"] == 200


def test_batch_validation_errors(graph: httpx.Client) -> None:
    assert graph.post("/$batch", json={"requests": []}).status_code == 400
    dup = [_post(1), _post(1)]
    assert graph.post("/$batch", json={"requests": dup}).status_code == 400
    forward = [{**_post(1), "dependsOn": ["2"]}, _post(2)]
    assert graph.post("/$batch", json={"requests": forward}).status_code == 400


def test_batched_items_are_journaled_individually_with_mailbox(graph: httpx.Client,
                                                               admin: httpx.Client) -> None:
    graph.post("/$batch", json={"requests": [_post(1), _post(2)]}).raise_for_status()
    entries = admin.get("/requests").json()
    assert entries[0]["path"] == "/v1.0/$batch" and entries[0]["status"] == 200  # receive order
    items = [e for e in entries if e.get("batched")]
    assert [(e["method"], e["status"], e["mailbox"]) for e in items] == [("POST", 201, A), ("POST", 201, A)]
    assert items[0]["path"] == f"/v1.0/users/{A}/contacts"
    assert items[0]["body"] == {"givenName": "B1"}


def test_injected_fault_hits_one_batched_item(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"path": "/contacts$", "method": "POST", "status": 429, "count": 1,
                                "retry_after": 2}).raise_for_status()
    responses = graph.post("/$batch", json={"requests": [_post(1), _post(2)]}).json()["responses"]
    assert [r["status"] for r in responses] == [429, 201]
    assert responses[0]["headers"]["Retry-After"] == "2"
