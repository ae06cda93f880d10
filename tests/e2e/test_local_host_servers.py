"""The local host's server routes for servers whose Graph is not the simulator (a real tenant's URL):
``test`` and ``initialize`` answer with a report naming what failed, for every such server, never 500."""

from __future__ import annotations

from tests.e2e.conftest import Clients


async def test_test_and_initialize_of_non_local_graph_servers_report_instead_of_failing(clients: Clients) -> None:
    c = clients
    for n, name in enumerate(("tenant", "other")):  # the second server used to hit an unbound name
        r = await c.api.post("/servers", json={"name": name, "client_id": "app",
                                               "graph_base_url": f"https://graph{n}.invalid/v1.0"})
        assert r.status_code == 201, r.text
        r = await c.api.put(f"/servers/{name}/mailboxes/ann{n}@contoso.test", json={"employee_id": f"EP{n}"})
        assert r.status_code == 201, r.text
        for route in ("test", "initialize"):
            r = await c.api.post(f"/servers/{name}/{route}", json={})
            assert r.status_code == 200, (name, route, r.text)
            body = r.json()
            [entry] = body["findings"] if route == "test" else body["mailboxes"]
            assert entry["ok"] is False and "EXSYNC_CLIENT_SECRET" in entry["message"], body
