"""End to end in headless Chromium: the real task pane served by the Function App, Office.js and
MSAL replaced by stand-ins (the item points at a message in the Graph simulator; the token comes
from the local issuer). The pane files one mail to a case and creates a lead from another; both
are checked in the Acumatica simulator through its standard API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.addin.conftest import ANN, AddinStack, v
from tests.addin.issuer import CLIENT_ID

HERE = Path(__file__).resolve().parent / "browser"
OFFICE_CDN = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
ZOE = "zoe@adatum.test"
MAX = "max@litware.test"
pytestmark = pytest.mark.slow


def _open_pane(page: Any, s: AddinStack, mail: dict[str, Any] | None, *, theme: str = "#1f1f1f",
               token: str | None = None) -> None:
    item = {"itemId": mail["id"], "internetMessageId": mail["internetMessageId"],
            "conversationId": mail["conversationId"], "subject": mail["subject"]} if mail else \
        {"itemId": "AAMkMissing", "internetMessageId": "<missing@contoso.test>", "conversationId": "c",
         "subject": "gone"}
    office = (HERE / "office_mock.js").read_text().replace("__ITEM__", json.dumps(item)) \
        .replace("__THEME__", json.dumps(theme))
    msal = (HERE / "msal_mock.js").read_text().replace("__TOKEN__", json.dumps(token or s.token(ANN)))
    page.route(OFFICE_CDN, lambda route: route.fulfill(body=office, content_type="text/javascript"))
    page.route("**/vendor/msal-browser.min.js", lambda route: route.fulfill(body=msal, content_type="text/javascript"))
    page.goto(f"{s.base}/api/addin/static/pane/index.html")


def _status(page: Any, text: str) -> None:
    page.wait_for_function("t => document.getElementById('status-text').textContent.includes(t)", arg=text,
                           timeout=30000)


def test_file_a_mail_to_a_case_then_create_a_lead_from_another(addin_stack: AddinStack, page: Any) -> None:
    s = addin_stack
    s.erp_put("BusinessAccount", {"BusinessAccountID": v("ADATUM"), "Name": v("Adatum Corp")})
    zoe = s.erp_put("Contact", {"FirstName": v("Zoe"), "LastName": v("Park"), "Email": v(ZOE),
                                "BusinessAccount": v("ADATUM")})
    case = s.erp_put("Case", {"ClassID": v("SUPPORT"), "Subject": v("Broken screen"),
                              "ContactID": v(zoe["ContactID"]["value"])})
    first = s.message(ANN, "Screen still broken", ("Zoe Park", ZOE), "The screen flickers.")

    _open_pane(page, s, first)
    _status(page, "ERP record(s) found")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("window.__msalRequests")[0] == [f"api://{CLIENT_ID}/access_as_user"]
    assert page.locator("#filed-none").is_visible()
    page.get_by_role("button", name="File this mail to case Broken screen").click()
    _status(page, "Filed to Broken screen.")
    filed = page.locator("#filed li")
    assert filed.count() == 1 and "Broken screen" in filed.inner_text()
    assert page.get_by_role("region", name="Filed to").get_by_role(
        "link", name="Open case Broken screen in the ERP").get_attribute("href") \
        == f"https://erp.contoso.test/{case['id']}"

    emails = [e for e in s.erp_list("Email") if e.get("Subject", {}).get("value") == "Screen still broken"]
    assert [(e["RelatedEntityType"]["value"], e["RelatedEntityNoteID"]["value"]) for e in emails] \
        == [("PX.Objects.CR.CRCase", case["id"])]

    # another mail, from someone the ERP does not know: create a lead with the keyboard only
    second = s.message(ANN, "Quote for 40 laptops", ("Max Ray", MAX), "Please send a quote.")
    page.unroute(OFFICE_CDN)
    page.unroute("**/vendor/msal-browser.min.js")
    _open_pane(page, s, second, theme="#ffffff")
    _status(page, "ERP record(s) found")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    assert page.locator("#records h3").all_inner_texts() == ["Employees"]  # only Ann, the recipient
    page.get_by_role("button", name="New lead").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "field-FirstName"
    assert page.locator("#field-FirstName").input_value() == "Max"
    assert page.locator("#field-LastName").input_value() == "Ray"
    page.keyboard.press("Escape")  # closes the form and returns to its button
    assert page.locator("#create-form").is_hidden()
    assert page.evaluate("document.activeElement.dataset.create") == "lead"
    page.keyboard.press("Enter")
    page.locator("#field-CompanyName").fill("Litware Inc")
    page.locator("#field-CompanyName").press("Enter")
    _status(page, "Created lead Max Ray")

    leads = [x for x in s.erp_list("Lead") if x.get("Email", {}).get("value") == MAX]
    assert [(x["FirstName"]["value"], x["LastName"]["value"], x["CompanyName"]["value"], x["Owner"]["value"])
            for x in leads] == [("Max", "Ray", "Litware Inc", "EP00000002")]
    emails = [e for e in s.erp_list("Email") if e.get("Subject", {}).get("value") == "Quote for 40 laptops"]
    assert [(e["RelatedEntityType"]["value"], e["RelatedEntityNoteID"]["value"]) for e in emails] \
        == [("PX.Objects.CR.CRLead", leads[0]["id"])]
    assert "Max Ray" in page.locator("#filed").inner_text()


def test_errors_are_shown_in_words(addin_stack: AddinStack, page: Any) -> None:
    s = addin_stack
    _open_pane(page, s, None)
    page.wait_for_selector("#error:not([hidden])", timeout=30000)
    assert page.locator("#error-text").inner_text().startswith("Not found:")
    assert page.evaluate("document.activeElement.id") == "retry"

    mail = s.message(ANN, "Expired session", ("Zoe Park", ZOE))
    other = page.context.new_page()
    _open_pane(other, s, mail, token=s.token(ANN, aud="api://someone-else"))
    other.wait_for_selector("#error:not([hidden])", timeout=30000)
    assert "Sign-in failed: token rejected (aud)" in other.locator("#error-text").inner_text()
