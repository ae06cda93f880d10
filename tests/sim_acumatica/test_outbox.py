"""Outgoing e-mail in the Acumatica simulator: system accounts, FromEmailAccountID, MailStatus rules."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sim_acumatica.conftest import E


def w(**values: Any) -> dict[str, Any]:
    return {k: {"value": v} for k, v in values.items()}


async def _accounts(anon: httpx.AsyncClient) -> None:
    response = await anon.post("/_sim/email-accounts", json=[
        {"id": 3, "address": "Billing@contoso.test", "displayName": "Billing"},
        {"id": 4, "address": "sales@contoso.test", "sender": "acumatica"}])
    assert response.status_code == 200 and [a["id"] for a in response.json()] == [3, 4]


async def test_an_outgoing_mail_needs_a_known_account(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    await _accounts(anon)
    mail = w(Subject="Invoice", To="carol@customer.test", MailStatus="Pending Processing", Incoming=False)
    missing = await api.put(f"{E}/Email", json=mail)
    assert missing.status_code == 422 and "FromEmailAccountID" in missing.json()["error"]
    unknown = await api.put(f"{E}/Email", json={**mail, **w(FromEmailAccountID=99)})
    assert unknown.status_code == 422 and "'99' cannot be found" in unknown.json()["error"]
    made = await api.put(f"{E}/Email", json={**mail, **w(FromEmailAccountID=3)})
    assert made.status_code == 200, made.text
    assert made.json()["FromEmailAccountDisplayName"]["value"] == "Billing"
    bad = await anon.post("/_sim/email-accounts", json=[{"id": 5, "address": "x@y.test", "sender": "smtp"}])
    assert bad.status_code == 400 and "sender" in bad.json()["error"]


async def test_mail_status_transitions(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    await _accounts(anon)
    made = (await api.put(f"{E}/Email", json=w(Subject="Invoice", To="carol@customer.test", Incoming=False,
                                               MailStatus="Pending Processing", FromEmailAccountID=3))).json()
    ident = made["id"]
    for status in ("Processing", "Failed", "Pending Processing", "Processed"):
        step = await api.put(f"{E}/Email", json={"id": ident, **w(MailStatus=status)})
        assert step.status_code == 200, (status, step.text)
    again = await api.put(f"{E}/Email", json={"id": ident, **w(MailStatus="Pending Processing")})
    assert again.status_code == 422
    assert "cannot change from 'Processed' to 'Pending Processing'" in again.json()["error"]
    filtered = await api.get(f"{E}/Email", params={"$filter": "MailStatus eq 'Processed' and FromEmailAccountID eq 3"})
    assert [r["id"] for r in filtered.json()] == [ident]


async def test_the_instances_own_sender_processes_only_its_accounts(api: httpx.AsyncClient,
                                                                     anon: httpx.AsyncClient) -> None:
    await _accounts(anon)
    ours = (await api.put(f"{E}/Email", json=w(Subject="Invoice", To="c@customer.test", Incoming=False,
                                               MailStatus="Pending Processing", FromEmailAccountID=3))).json()
    theirs = (await api.put(f"{E}/Email", json=w(Subject="Offer", To="c@customer.test", Incoming=False,
                                                 MailStatus="Pending Processing", FromEmailAccountID=4))).json()
    processed = (await anon.post("/_sim/email-accounts/process")).json()["processed"]
    assert processed == [theirs["id"]]
    assert (await api.get(f"{E}/Email/{ours['id']}")).json()["MailStatus"]["value"] == "Pending Processing"
