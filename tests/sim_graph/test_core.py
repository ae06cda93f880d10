"""Start-up, auth, users, admin surface, error shape, strictness of request bodies."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.sim_graph.conftest import A, error_code, user


def test_request_without_bearer_gets_401(graph: httpx.Client) -> None:
    response = httpx.get(f"{graph.base_url}{user()}")
    assert response.status_code == 401
    assert error_code(response) == "InvalidAuthenticationToken"
    assert set(response.json()["error"]) >= {"code", "message", "innerError"}


def test_user_by_upn_and_by_id(graph: httpx.Client) -> None:
    by_upn = graph.get(user()).json()
    assert by_upn["userPrincipalName"] == A
    by_id = graph.get(f"/users/{by_upn['id']}").json()
    assert by_id["userPrincipalName"] == A
    upper = graph.get(user(upn=A.upper()))
    assert upper.json()["id"] == by_upn["id"]


def test_unknown_user_is_404_like_graph(graph: httpx.Client) -> None:
    direct = graph.get("/users/nobody@contoso.test")
    assert direct.status_code == 404
    assert error_code(direct) == "Request_ResourceNotFound"
    nested = graph.get("/users/nobody@contoso.test/contacts")
    assert nested.status_code == 404
    assert error_code(nested) == "ErrorInvalidUser"


def test_admin_adds_a_user_and_reset_keeps_users(graph: httpx.Client, admin: httpx.Client) -> None:
    added = admin.post("/users", json={"userPrincipalName": "c@contoso.test", "displayName": "Cee"})
    assert added.status_code == 201
    graph.post(user("/contacts", "c@contoso.test"), json={"givenName": "X"}).raise_for_status()
    admin.post("/reset").raise_for_status()
    assert graph.get(user(upn="c@contoso.test")).json()["displayName"] == "Cee"
    assert graph.get(user("/contacts", "c@contoso.test")).json()["value"] == []


def test_admin_rejects_bad_user(admin: httpx.Client) -> None:
    response = admin.post("/users", json={"displayName": "no upn"})
    assert response.status_code == 400
    assert "userPrincipalName" in response.json()["error"]


def test_unknown_property_is_rejected_like_graph(graph: httpx.Client) -> None:
    response = graph.post(user("/contacts"), json={"givenName": "Ann", "favouriteColour": "red"})
    assert response.status_code == 400
    assert error_code(response) == "RequestBodyRead"
    message = response.json()["error"]["message"]
    assert "'favouriteColour'" in message and "microsoft.graph.contact" in message


def test_wrong_type_is_rejected(graph: httpx.Client) -> None:
    assert graph.post(user("/contacts"), json={"givenName": 5}).status_code == 400
    assert graph.post(user("/contacts"), json={"emailAddresses": {"address": "x"}}).status_code == 400
    nested = graph.post(user("/contacts"), json={"emailAddresses": [{"adress": "x@y.test"}]})
    assert nested.status_code == 400
    assert "'adress'" in nested.json()["error"]["message"]
    assert "microsoft.graph.emailAddress" in nested.json()["error"]["message"]


def test_enum_values_are_checked(graph: httpx.Client) -> None:
    bad = graph.post(user("/messages"), json={"subject": "x", "importance": "urgent"})
    assert bad.status_code == 400
    assert "importance" in bad.json()["error"]["message"]
    assert graph.post(user("/messages"), json={"subject": "x", "importance": "high"}).status_code == 201


def test_odata_type_annotation_is_accepted_and_checked(graph: httpx.Client) -> None:
    ok = graph.post(user("/contacts"), json={"@odata.type": "#microsoft.graph.contact", "givenName": "A"})
    assert ok.status_code == 201
    wrong = graph.post(user("/contacts"), json={"@odata.type": "#microsoft.graph.message", "subject": "A"})
    assert wrong.status_code == 400


def test_invalid_json_is_400(graph: httpx.Client) -> None:
    response = graph.post(user("/contacts"), content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_unknown_segment_is_400(graph: httpx.Client) -> None:
    response = graph.get(user("/notAThing"))
    assert response.status_code == 400
    assert "notAThing" in response.json()["error"]["message"]


def test_fault_injection_and_journal(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"path": "/contacts$", "method": "GET", "status": 503, "count": 2,
                                "retry_after": 3}).raise_for_status()
    first = graph.get(user("/contacts"))
    second = graph.get(user("/contacts"))
    third = graph.get(user("/contacts"))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["Retry-After"] == "3"
    assert "error" in first.json()
    graph.post(user("/contacts"), json={"givenName": "J"}).raise_for_status()
    entries = admin.get("/requests").json()
    assert [e["status"] for e in entries] == [503, 503, 200, 201]
    assert entries[-1]["method"] == "POST"
    assert entries[-1]["body"] == {"givenName": "J"}
    assert all(e["mailbox"] in (None, A) for e in entries)
    assert entries[-1]["mailbox"] == A


def test_a_fault_can_skip_its_first_matching_requests(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"path": "/contacts$", "method": "GET", "status": 503, "skip": 2}).raise_for_status()
    admin.post("/faults", json={"path": "/contacts$", "method": "GET", "status": 500}).raise_for_status()
    statuses = [graph.get(user("/contacts")).status_code for _ in range(4)]
    assert statuses == [500, 200, 503, 200]  # skipping, the first request met the fault after it
    assert "skip" in admin.post("/faults", json={"path": "x", "status": 500, "skip": -1}).json()["error"]


def test_faults_can_be_cleared(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"path": "contacts", "status": 500, "count": 5}).raise_for_status()
    admin.delete("/faults").raise_for_status()
    assert graph.get(user("/contacts")).status_code == 200
    assert admin.post("/faults", json={"status": 500}).status_code == 400


def test_dropped_connection_and_delay_faults(graph: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"path": "/users/", "drop": True}).raise_for_status()
    try:
        graph.get(user())
        dropped = False
    except httpx.TransportError:
        dropped = True
    assert dropped
    admin.post("/faults", json={"path": "/users/", "status": 200, "delay_ms": 50}).raise_for_status()
    assert graph.get(user()).status_code == 200
    statuses = [e["status"] for e in admin.get("/requests").json()]
    assert statuses == [None, 200]


def test_ids_with_reserved_characters_are_addressed_percent_encoded(graph: httpx.Client,
                                                                     admin: httpx.Client) -> None:
    assert admin.post("/ids", json={"marks": "/#?\\"}).status_code == 200
    made = graph.post(user("/contacts"), json={"givenName": "Slash"}).json()
    assert "/#?\\" in made["id"]
    path = user(f"/contacts/{quote(made['id'], safe='')}")
    assert graph.get(path).json()["id"] == made["id"]
    batch = graph.post("/$batch", json={"requests": [{"id": "1", "method": "GET", "url": path}]})
    assert batch.json()["responses"][0]["status"] == 200
    assert graph.get(user(f"/contacts/{made['id']}")).status_code != 200  # unencoded: '#' and '?' cut the path
    admin.post("/reset").raise_for_status()
    assert "/#?\\" not in graph.post(user("/contacts"), json={"givenName": "Plain"}).json()["id"]


def test_admin_rejects_bad_id_marks_and_fault_specs(admin: httpx.Client) -> None:
    assert "marks" in admin.post("/ids", json={"marks": 3}).json()["error"]
    assert "after" in admin.post("/faults", json={"path": "x", "drop": True, "after": "yes"}).json()["error"]
