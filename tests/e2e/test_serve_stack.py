"""End to end: the serve stack, configured through the HTTP API only, syncs both simulators."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from shared.cli import run
from tests.e2e.conftest import Clients, settled, wait_for

ANN = "ann@contoso.test"


def v(value: object) -> dict[str, object]:
    return {"value": value}


async def _configure(c: Clients) -> None:
    sim = c.stack.graph.base_url
    r = await c.graph.post("/_sim/users", json={"userPrincipalName": ANN, "displayName": "Ann"})
    assert r.status_code == 201, r.text
    await c.erp.post("/_sim/seed", json={"Employee": [{"EmployeeID": v("EP00000001"), "EmployeeName": v("Ann"),
                                                        "ContactInfo": {"Email": v(ANN)}}]})
    r = await c.api.post("/policies", json={"name": "sales", "contacts": {"sync_without_category": True}})
    assert r.status_code == 201, r.text
    r = await c.api.post("/servers", json={"name": "m365", "default_policy": "sales", "client_id": "app",
                                           "graph_base_url": f"{sim}/v1.0"})
    assert r.status_code == 201, r.text
    r = await c.api.put(f"/servers/m365/mailboxes/{ANN}", json={"employee_id": "EP00000001",
                                                                "employee_name": "Ann"})
    assert r.status_code == 201, r.text


async def run_cli(c: Clients, *argv: str) -> tuple[int, Any]:
    """``exsync --json ...`` in a thread (the stack shares this event loop); exit code and JSON."""
    out = io.StringIO()
    args = ["--url", c.stack.api, "--key", c.stack.key, "--json", *argv]
    with contextlib.redirect_stdout(out):
        code = await asyncio.to_thread(run, args, console=Console(file=io.StringIO()))
    return code, json.loads(out.getvalue())


async def test_api_only_configuration_then_two_way_contact_sync(clients: Clients) -> None:
    c = clients
    await _configure(c)
    r = await c.api.get("/policies", headers={"x-functions-key": "wrong"})
    assert r.status_code == 401
    erp_contact = await c.erp_put("Contact", {"FirstName": v("Ada"), "LastName": v("Lovelace"),
                                             "Email": v("ada@example.com"), "Owner": v("EP00000001")})
    since = datetime.now(UTC).isoformat()
    r = await c.api.post("/sync", json={"mailboxes": [ANN]})
    assert r.status_code == 202, r.text
    await wait_for(lambda: settled(c, ANN, since), what="first sync")
    status = (await c.api.get(f"/mailboxes/{ANN}/status")).json()
    assert status["last_run"]["state"] == "succeeded", status

    contacts = await c.graph_list(f"users/{ANN}/contacts?$top=100")
    assert [x["emailAddresses"][0]["address"] for x in contacts] == ["ada@example.com"]

    # a contact created in Outlook reaches the ERP on the next scheduled run
    r = await c.graph.post(f"/v1.0/users/{ANN}/contacts", json={
        "givenName": "Grace", "surname": "Hopper",
        "emailAddresses": [{"address": "grace@example.com", "name": "Grace Hopper"}]})
    assert r.status_code == 201, r.text
    since = datetime.now(UTC).isoformat()
    await c.run_timer("schedule")
    await wait_for(lambda: settled(c, ANN, since), what="scheduled sync")
    emails = sorted(x["Email"]["value"] for x in await c.erp_list("Contact") if x.get("Email"))
    assert emails == ["ada@example.com", "grace@example.com"]
    assert erp_contact["id"]

    # the exsync CLI over the same API
    async def cli(*argv: str) -> tuple[int, Any]:
        return await run_cli(c, *argv)

    code, policies = await cli("policies", "list")
    assert code == 0 and [p["name"] for p in policies] == ["sales"]
    code, result = await cli("sync", ANN, "--type", "contact")
    assert code == 0 and result["results"][ANN]["state"] == "succeeded"
    code, status = await cli("status", ANN)
    assert code == 0 and "contact" in status["export_dates"]
    code, log = await cli("log", ANN, "--level", "verbose")
    assert code == 0 and "entries" in log
    code, doctor = await cli("doctor")
    assert code == 0 and doctor["servers"][0]["findings"][0]["ok"] is True
    code, failed = await cli("mailboxes", "put", "m365", "bad-address", "--employee-id", "EP1")
    assert code == 1 and "email" in {f["field"] for f in failed["body"]["fields"]}
