"""Simulator push notifications (create/update/delete, retries) and the admin surface."""

from __future__ import annotations

import httpx

from tests.erp.harness import push_receiver
from tests.sim_acumatica.conftest import E


async def test_push_on_create_update_delete(api: httpx.AsyncClient, base_url: str) -> None:
    async with push_receiver(base_url) as receiver:
        created = (await api.put(f"{E}/Contact", json={"LastName": {"value": "Lee"}})).json()
        await api.put(f"{E}/Contact", json={"id": created["id"], "LastName": {"value": "Li"}})
        assert (await api.delete(f"{E}/Contact/{created['id']}")).status_code == 204
        insert, update, delete = await receiver.wait_for(3)
        assert all(h.get("X-Test") == "1" for h in receiver.headers)   # the configured auth header
    assert [r["LastName"] for r in insert["Inserted"]] == ["Lee"] and insert["Deleted"] == []
    assert [r["LastName"] for r in update["Deleted"]] == ["Lee"]
    assert [r["LastName"] for r in update["Inserted"]] == ["Li"]
    assert delete["Inserted"] == [] and [r["NoteID"] for r in delete["Deleted"]] == [created["id"]]
    for body in (insert, update, delete):
        assert body["Query"] == "Contact" and body["CompanyId"] == "Company" and body["AdditionalInfo"] == {}
    assert insert["TimeStamp"] < update["TimeStamp"] < delete["TimeStamp"]
    assert len({insert["Id"], update["Id"], delete["Id"]}) == 3


async def test_push_is_retried_after_a_failed_delivery(api: httpx.AsyncClient, base_url: str,
                                                       anon: httpx.AsyncClient) -> None:
    async with push_receiver(base_url) as receiver:
        receiver.fail_next = 2
        await api.put(f"{E}/Task", json={"Summary": {"value": "Call"}})
        [body] = await receiver.wait_for(1)
        state = (await anon.get("/_sim/push")).json()
    assert body["Query"] == "Task"
    [delivery] = state["deliveries"]
    assert delivery["attempts"] == 3 and delivery["delivered"]


async def test_faults_journal_seed_and_reset(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    fault = {"path": "/Contact$", "method": "GET", "status": 429, "retry_after": 2}
    assert (await anon.post("/_sim/faults", json=fault)).status_code == 201
    throttled = await api.get(f"{E}/Contact")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert (await api.get(f"{E}/Contact")).status_code == 200
    journal = (await anon.get("/_sim/requests")).json()
    assert [(j["method"], j["status"]) for j in journal[-2:]] == [("GET", 429), ("GET", 200)]
    assert set(journal[-1]) == {"method", "path", "query", "body", "status"}
    seeded = await anon.post("/_sim/seed", json={"Contact": [{"LastName": {"value": "Seed"}}]})
    assert seeded.status_code == 200 and seeded.json()["Contact"][0]["LastName"]["value"] == "Seed"
    bad_seed = await anon.post("/_sim/seed", json={"Contact": [{"Status": {"value": "Nope"}}]})
    assert bad_seed.status_code == 422
    assert len((await api.get(f"{E}/Contact")).json()) == 1
    await anon.post("/_sim/reset")
    assert (await anon.get("/_sim/requests")).json() == []
    assert (await api.get(f"{E}/Contact")).status_code == 401  # sessions are gone too
