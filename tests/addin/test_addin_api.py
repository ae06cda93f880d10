"""The add-in API over HTTP on the serve stack: Entra tokens from a local issuer, the message read
through the Graph simulator, records filed and created in the Acumatica simulator."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

from tests.addin.conftest import ANN, BOB, ERP_LINKS, AddinStack, v

ADA = "ada@fabrikam.test"
LEO = "leo@northwind.test"


@pytest.fixture(scope="module")
def crm(addin_stack: AddinStack) -> dict[str, Any]:
    s = addin_stack
    account = s.erp_put("BusinessAccount", {"BusinessAccountID": v("FABRIKAM"), "Name": v("Fabrikam Inc")})
    ada = s.erp_put("Contact", {"FirstName": v("Ada"), "LastName": v("Byron"), "Email": v(ADA),
                                "BusinessAccount": v("FABRIKAM")})
    case = s.erp_put("Case", {"ClassID": v("SUPPORT"), "Subject": v("Printer jams"),
                              "ContactID": v(ada["ContactID"]["value"])})
    closed = s.erp_put("Case", {"ClassID": v("SUPPORT"), "Subject": v("Old issue"), "Status": v("Closed"),
                                "ContactID": v(ada["ContactID"]["value"])})
    opp = s.erp_put("Opportunity", {"Subject": v("More printers"), "BusinessAccount": v("FABRIKAM")})
    lead = s.erp_put("Lead", {"FirstName": v("Leo"), "LastName": v("North"), "Email": v(LEO)})
    s.erp_put("Lead", {"FirstName": v("Ada"), "LastName": v("Old lead"), "Email": v(ADA), "Status": v("Converted")})
    return {"account": account, "ada": ada, "case": case, "closed": closed, "opp": opp, "lead": lead}


def _refusal(s: AddinStack, token: str) -> httpx.Response:
    return httpx.get(f"{s.base}/api/addin/message", params={"id": "x"},
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)


BAD_TOKENS = {
    "wrong audience": {"aud": "api://someone-else"},
    "wrong issuer": {"iss": "https://login.microsoftonline.com/other/v2.0"},
    "expired": {"exp": int(time.time()) - 600, "nbf": int(time.time()) - 4000},
    "wrong tenant": {"tid": "99999999-0000-0000-0000-000000000000"},
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_get_401(addin_stack: AddinStack, case: str) -> None:
    r = _refusal(addin_stack, addin_stack.token(ANN, **BAD_TOKENS[case]))
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "not_authenticated"


def test_unknown_key_and_missing_token_get_401(addin_stack: AddinStack) -> None:
    r = _refusal(addin_stack, addin_stack.issuer.stranger_token(ANN))
    assert r.status_code == 401 and "(kid)" in r.json()["message"]
    r = httpx.get(f"{addin_stack.base}/api/addin/message", params={"id": "x"}, timeout=30)
    assert r.status_code == 401 and "Authorization: Bearer" in r.json()["message"]


def test_a_user_exsync_does_not_sync_gets_403(addin_stack: AddinStack) -> None:
    with addin_stack.api(BOB) as api:
        r = api.get("/message", params={"id": "x"})
    assert r.status_code == 403, r.text
    assert f"mailboxes/{BOB}" in r.json()["message"]


def test_config_needs_no_token_and_shows_no_secret(addin_stack: AddinStack) -> None:
    r = httpx.get(f"{addin_stack.base}/api/addin/config", timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["configured"] and body["authority"] == f"{addin_stack.issuer.authority}/{addin_stack.issuer.tenant}"
    assert body["scopes"] == [f"api://{body['client_id']}/access_as_user"]


def test_message_shows_records_and_costs_a_fixed_number_of_erp_requests(
        addin_stack: AddinStack, crm: dict[str, Any]) -> None:
    s = addin_stack
    mail = s.message(ANN, "Printer still jams", ("Ada Byron", ADA), "It jams again.", cc=(LEO,))
    before = len(s.erp.get("/_sim/requests").json())
    with s.api() as api:
        r = api.get("/message", params={"id": mail["id"]})
    assert r.status_code == 200, r.text
    erp_calls = s.erp.get("/_sim/requests").json()[before:]
    body = r.json()
    found = {(x["kind"], x["title"]) for x in body["records"]}
    assert found == {("contact", "Ada Byron"), ("lead", "Leo North"), ("employee", "Ann Lee"),
                     ("account", "Fabrikam Inc"), ("case", "Printer jams"), ("opportunity", "More printers")}
    case = next(x for x in body["records"] if x["kind"] == "case")
    assert case["link"] == f"{ERP_LINKS}{crm['case']['id']}"
    assert body["message"]["subject"] == "Printer still jams" and "body" not in body["message"]
    assert body["prefill"]["case"]["ContactID"] == crm["ada"]["ContactID"]["value"]
    assert body["prefill"]["lead"]["Email"] == ADA
    # six lists (contact, lead, employee, account, case, opportunity), besides login / logout
    paths = [e.get("path", "") for e in erp_calls]
    assert sum("/entity/Default" in p for p in paths) == 6, paths


def test_lookup_by_internet_message_id(addin_stack: AddinStack) -> None:
    s = addin_stack
    mail = s.message(ANN, "By message id", ("Ada Byron", ADA))
    with s.api() as api:
        r = api.get("/message", params={"internetMessageId": mail["internetMessageId"]})
        missing = api.get("/message", params={"id": "AAMkADoesNotExist"})
    assert r.status_code == 200 and r.json()["message"]["id"] == mail["id"]
    assert missing.status_code == 404


def test_filing_twice_is_one_email_and_the_conversation_shows_it(
        addin_stack: AddinStack, crm: dict[str, Any]) -> None:
    s = addin_stack
    mail = s.message(ANN, "Re: printer", ("Ada Byron", ADA), "Still jamming")
    target = {"message_id": mail["id"], "target_kind": "case", "target_id": crm["case"]["id"]}
    with s.api() as api:
        first = api.post("/log", json=target)
        second = api.post("/log", json=target)
        shown = api.get("/message", params={"id": mail["id"]}).json()
    assert (first.status_code, second.status_code) == (201, 200), first.text
    assert first.json()["email_id"] == second.json()["email_id"]
    emails = [e for e in s.erp_list("Email") if e.get("Subject", {}).get("value") == "Re: printer"]
    assert len(emails) == 1
    assert emails[0]["RelatedEntityType"]["value"] == "PX.Objects.CR.CRCase"
    assert emails[0]["RelatedEntityNoteID"]["value"] == crm["case"]["id"]
    assert emails[0]["Owner"]["value"] == "EP00000002"
    assert [(f["kind"], f["title"], f["source"]) for f in shown["filed"]] == [("case", "Printer jams", "addin")]


def test_create_lead_from_a_mail_is_idempotent_and_files_the_mail(addin_stack: AddinStack) -> None:
    s = addin_stack
    mail = s.message(ANN, "Interested in printers", ("Mia Stone", "mia@tailspin.test"), "Call me")
    body = {"message_id": mail["id"], "kind": "lead", "fields": {"CompanyName": "Tailspin Toys"}}
    with s.api() as api:
        first = api.post("/records", json=body)
        again = api.post("/records", json=body)
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["record"]["id"] == again.json()["record"]["id"]
    leads = [x for x in s.erp_list("Lead") if x.get("Email", {}).get("value") == "mia@tailspin.test"]
    assert len(leads) == 1
    lead = leads[0]
    assert (lead["FirstName"]["value"], lead["LastName"]["value"], lead["CompanyName"]["value"],
            lead["Owner"]["value"]) == ("Mia", "Stone", "Tailspin Toys", "EP00000002")
    emails = [e for e in s.erp_list("Email") if e.get("Subject", {}).get("value") == "Interested in printers"]
    assert [e["RelatedEntityNoteID"]["value"] for e in emails] == [lead["id"]]


def test_bad_input_names_the_field(addin_stack: AddinStack) -> None:
    s = addin_stack
    mail = s.message(ANN, "Hello", ("Ada Byron", ADA))
    with s.api() as api:
        kind = api.post("/log", json={"message_id": mail["id"], "target_kind": "invoice", "target_id": "x"})
        field = api.post("/records", json={"message_id": mail["id"], "kind": "case", "fields": {"Colour": "red"}})
        none = api.post("/log", json={"target_kind": "case", "target_id": "x"})
        gone = api.post("/log", json={"message_id": mail["id"], "target_kind": "case",
                                      "target_id": "00000000-0000-0000-0000-000000000001"})
    def fields(r: httpx.Response) -> list[str]:
        return [f["field"] for f in r.json()["fields"]]

    assert kind.status_code == 400 and fields(kind) == ["target_kind"]
    assert field.status_code == 400 and fields(field) == ["fields.Colour"]
    assert none.status_code == 400 and fields(none) == ["id"]
    assert gone.status_code == 404


def test_erp_link_and_openapi(addin_stack: AddinStack, crm: dict[str, Any]) -> None:
    s = addin_stack
    with s.api() as api:
        r = api.get(f"/link/case/{crm['case']['id']}")
    assert r.json() == {"url": f"{ERP_LINKS}{crm['case']['id']}", "message": None}
    doc = httpx.get(f"{s.stack.api}/openapi.json", headers={"x-functions-key": s.stack.key}, timeout=30).json()
    assert doc["paths"]["/addin/message"]["get"]["security"] == [{"entraBearer": []}]
    assert "401" in doc["paths"]["/addin/log"]["post"]["responses"]
    config = doc["paths"]["/addin/config"]["get"]
    assert config["security"] == [] and "401" not in config["responses"] and "Public" in config["description"]


def test_logs_say_who_did_what_without_mail_contents(addin_stack: AddinStack, crm: dict[str, Any],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    s = addin_stack
    secret = "Confidential merger terms"
    mail = s.message(ANN, secret, ("Ada Byron", ADA), f"{secret} in the body")
    caplog.set_level(logging.DEBUG)
    with s.api() as api:
        r = api.post("/log", json={"message_id": mail["id"], "target_kind": "case", "target_id": crm["case"]["id"]})
    assert r.status_code == 201, r.text
    # exsync's own loggers (httpx logs request URLs at INFO: see docs/outlook-addin.md, Logging)
    above_debug = [rec.getMessage() for rec in caplog.records
                   if rec.levelno > logging.DEBUG and rec.name.startswith("shared.")]
    assert any(f"{ANN} filed a mail to case {crm['case']['CaseID']['value']}" in m for m in above_debug), above_debug
    assert not [m for m in above_debug if secret in m or ADA in m]
    assert any(secret in rec.getMessage() for rec in caplog.records if rec.levelno == logging.DEBUG)


def test_no_address_of_the_mail_reaches_a_log_above_debug_during_a_lookup(
        addin_stack: AddinStack, crm: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    """Every logger, the HTTP libraries' included: their request lines carry the ERP ``$filter``
    with the sender's and recipients' addresses (the acting user is named at INFO: who did what)."""
    s = addin_stack
    mail = s.message(ANN, "Lookup privacy", ("Ada Byron", ADA), "Hello", cc=(LEO,))
    caplog.set_level(logging.DEBUG)
    with s.api() as api:
        r = api.get("/message", params={"id": mail["id"]})
    assert r.status_code == 200 and {x["title"] for x in r.json()["records"]} >= {"Ada Byron", "Leo North"}
    loud = [f"{rec.name}: {rec.getMessage()}" for rec in caplog.records if rec.levelno > logging.DEBUG]
    assert any(f"{ANN} looked up a message" in m for m in loud), loud
    assert not [m for m in loud if ADA in m or LEO in m or "%40" in m], loud


def test_attachments_are_filed_only_when_asked(addin_stack: AddinStack, crm: dict[str, Any]) -> None:
    import base64

    s = addin_stack
    content = base64.b64encode(b"invoice 42").decode()
    mail = s.message(ANN, "Invoice attached", ("Ada Byron", ADA), "See attachment",
                     attachments=[{"@odata.type": "#microsoft.graph.fileAttachment", "name": "invoice.txt",
                                   "contentType": "text/plain", "contentBytes": content}])
    with s.api() as api:
        shown = api.get("/message", params={"id": mail["id"]}).json()
        without = api.post("/log", json={"message_id": mail["id"], "target_kind": "contact",
                                         "target_id": crm["ada"]["id"]})
        with_files = api.post("/log", json={"message_id": mail["id"], "target_kind": "case",
                                            "target_id": crm["case"]["id"], "attachments": True})
    assert shown["message"]["has_attachments"] is True and shown["max_attachment_kb"] == 3072
    assert without.status_code == 201 and with_files.status_code == 201

    def files(email_id: str) -> list[str]:
        r = s.erp.get(f"/entity/Default/24.200.001/Email/{email_id}", params={"$expand": "files"})
        assert r.status_code == 200, r.text
        return [f["filename"].rsplit("\\", 1)[-1] for f in r.json().get("files", [])]

    assert files(without.json()["email_id"]) == []
    assert files(with_files.json()["email_id"]) == ["invoice.txt"]
