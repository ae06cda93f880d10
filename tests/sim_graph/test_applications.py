"""Application objects: lookup by object id and appId, addPassword (secret once), removePassword, admin."""

from __future__ import annotations

import httpx

SEED = "3f1c9c2e-5e7a-4a51-9d7e-0d3c2b6a0e01"


def test_seeded_application_by_object_id_and_app_id(graph: httpx.Client) -> None:
    app = graph.get(f"/applications/{SEED}").json()
    assert app["displayName"] == "exsync"
    assert len(app["passwordCredentials"]) == 1
    assert app["passwordCredentials"][0]["secretText"] is None
    by_app_id = graph.get(f"/applications(appId='{app['appId']}')").json()
    assert by_app_id["id"] == SEED
    listed = graph.get("/applications", params={"$filter": f"appId eq '{app['appId']}'"}).json()["value"]
    assert [a["id"] for a in listed] == [SEED]
    assert graph.get("/applications/00000000-0000-0000-0000-000000000000").status_code == 404


def test_add_and_remove_password(graph: httpx.Client, admin: httpx.Client) -> None:
    added = graph.post(f"/applications/{SEED}/addPassword", json={
        "passwordCredential": {"displayName": "rotated", "endDateTime": "2031-01-01T00:00:00Z"}})
    assert added.status_code == 200
    credential = added.json()
    assert credential["secretText"] and credential["hint"] == credential["secretText"][:3]
    assert credential["endDateTime"] == "2031-01-01T00:00:00Z"
    again = graph.get(f"/applications/{SEED}").json()["passwordCredentials"]
    assert [c["displayName"] for c in again] == ["initial", "rotated"]
    assert all(c["secretText"] is None for c in again)
    inspected = {c["keyId"]: c["secretText"] for c in admin.get("/applications").json()[0]["passwordCredentials"]}
    assert inspected[credential["keyId"]] == credential["secretText"]
    via_app_id = graph.post(f"/applications(appId='{graph.get(f'/applications/{SEED}').json()['appId']}')"
                            "/addPassword", json={"passwordCredential": {"displayName": "x"}})
    assert via_app_id.status_code == 200
    removed = graph.post(f"/applications/{SEED}/removePassword", json={"keyId": credential["keyId"]})
    assert removed.status_code == 204
    remaining = graph.get(f"/applications/{SEED}").json()["passwordCredentials"]
    assert credential["keyId"] not in {c["keyId"] for c in remaining}
    assert graph.post(f"/applications/{SEED}/removePassword", json={"keyId": credential["keyId"]}).status_code == 400
    bad = graph.post(f"/applications/{SEED}/addPassword", json={"passwordCredential": {"colour": "x"}})
    assert bad.status_code == 400


def test_admin_adds_an_application(graph: httpx.Client, admin: httpx.Client) -> None:
    made = admin.post("/applications", json={"displayName": "other", "appId": "app-2", "passwordCredentials": [
        {"displayName": "old", "endDateTime": "2020-01-01T00:00:00Z", "secretText": "s3cret"}]})
    assert made.status_code == 201
    body = made.json()
    assert body["passwordCredentials"][0]["secretText"] == "s3cret"
    seen = graph.get(f"/applications/{body['id']}").json()
    assert seen["passwordCredentials"][0]["endDateTime"] == "2020-01-01T00:00:00Z"
    assert admin.post("/applications", json={}).status_code == 400
