"""The admin console in headless Chromium over the real local stack (Azurite, the Graph and
Acumatica simulators, the local Functions host), every flow checked afterwards through the
admin API's own data.

``make screenshots`` runs this module with ``EXSYNC_SCREENSHOTS=docs/console``: the PNGs in
``docs/console.md`` are written by these flows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.console_stack import ANN, BOB, ConsoleStack, console_stack, screenshot_dir

pytestmark = pytest.mark.timeout(240)

RUN_WAIT_MS = 90_000


@pytest.fixture(scope="module")
def stack() -> Iterator[ConsoleStack]:
    with console_stack() as s:
        s.seed_erp({"Employee": [
            {"EmployeeID": {"value": "EP00000001"}, "EmployeeName": {"value": "Ann"},
             "ContactInfo": {"Email": {"value": ANN}}},
            {"EmployeeID": {"value": "EP00000002"}, "EmployeeName": {"value": "Bob"},
             "ContactInfo": {"Email": {"value": BOB}}}],
            "Contact": [{"FirstName": {"value": "Ada"}, "LastName": {"value": "Lovelace"},
                         "Email": {"value": "ada@example.com"}, "Owner": {"value": "EP00000001"}}]})
        yield s


def shot(page: Any, name: str) -> None:
    folder = screenshot_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"))


def sign_in(page: Any, stack: ConsoleStack, role: str = "admin") -> None:
    page.goto(f"{stack.console}/signin?role={role}&return_to=/api/console/health")
    page.wait_for_selector("h1:text('Health')")


def api_json(stack: ConsoleStack, path: str) -> Any:
    with stack.api() as api:
        response = api.get(path)
        assert response.status_code == 200, response.text
        return response.json()


def chart_total(page: Any, index: int) -> int:
    caption = page.inner_text(f"figure.chart >> nth={index} >> figcaption")
    found = re.search(r"(\d+) in total", caption)
    assert found, caption
    return int(found.group(1))


def csrf_of(page: Any) -> str:
    return str(page.get_attribute('meta[name="csrf-token"]', "content"))


def test_admin_configures_initializes_processes_and_resets(page: Any, stack: ConsoleStack) -> None:
    sign_in(page, stack)
    shot(page, "health-empty")

    # a policy: a bad hyperlink is refused next to its field, nothing typed is lost
    page.goto(f"{stack.console}/policies/new")
    page.fill("#f-name", "sales")
    page.fill("#f-description", "Sales team")
    page.check("#f-contacts-sync-without-category")
    page.fill("#f-contacts-hyperlink", "erp.contoso.com")
    page.click("button:text('Save')")
    error = page.locator("#f-contacts-hyperlink-err")
    assert "https://erp.contoso.com/" in error.inner_text()
    assert page.get_attribute("#f-contacts-hyperlink", "aria-invalid") == "true"
    assert page.input_value("#f-description") == "Sales team"
    shot(page, "policy-validation")
    page.fill("#f-contacts-hyperlink", "https://erp.contoso.com/")
    page.click("button:text('Save')")
    page.wait_for_selector("p.notice:text('Created.')")
    shot(page, "policy")

    # a server on the Graph simulator, verbose log
    page.goto(f"{stack.console}/servers/new")
    page.fill("#f-name", "m365")
    page.select_option("#f-default-policy", "sales")
    page.select_option("#f-logging-level", "verbose")
    page.fill("#f-client-id", "app")
    page.fill("#f-graph-base-url", stack.graph_url)
    page.click("button:text('Save')")
    page.wait_for_selector("p.notice:text('Created.')")

    # two mailboxes: ann on the server's default policy, bob (unknown to Graph) explicitly on sales
    for email, employee, name, policy in ((ANN, "EP00000001", "Ann", ""), (BOB, "EP00000002", "Bob", "sales")):
        page.fill("#f-email", email)
        page.fill("#f-employee-id", employee)
        page.fill("#f-employee-name", name)
        page.select_option("#f-policy", policy)
        page.click("#save-mailbox")
        page.wait_for_selector(f"#mailboxes th a:text('{email}')")

    # Initialize: ann gets her category and folders, bob's mailbox does not exist
    page.click("#initialize-server")
    page.wait_for_selector("#findings h3")
    findings = page.inner_text("#findings")
    assert re.search(rf"{re.escape(ANN)}\s+ok", findings), findings
    assert BOB in findings and not re.search(rf"{re.escape(BOB)}\s+ok\b", findings), findings
    shot(page, "server")

    # Process both, watch the runs finish (the rows poll the status while they work)
    page.goto(f"{stack.console}/sync?server=m365")
    page.check(f"input[name='mailboxes'][value='{ANN}']")
    page.check(f"input[name='mailboxes'][value='{BOB}']")
    page.click("#process")
    page.wait_for_selector("p.notice:text('Queued')")
    ann_row = page.locator("tbody#rows tr", has_text=ANN)
    bob_row = page.locator("tbody#rows tr", has_text=BOB)
    ann_row.locator(".state-succeeded").wait_for(timeout=RUN_WAIT_MS)
    bob_row.locator(".state-failed").wait_for(timeout=RUN_WAIT_MS)
    shot(page, "sync")

    # ann's page: counts, log with a level filter, reset the contact export date
    page.click(f"a:text('{ANN}')")
    page.wait_for_selector(f"h1:text('Mailbox {ANN}')")
    assert "succeeded" in page.inner_text("#run-state")
    all_rows = page.locator("#log tbody tr").count()
    assert all_rows >= 1 and "The log is empty" not in page.inner_text("#log")
    page.select_option("#log-level", "warning")
    page.wait_for_selector("#log caption:text('warning and above')")
    assert page.locator("#log tbody tr").count() <= all_rows
    shot(page, "mailbox")
    assert "contact" in api_json(stack, f"/mailboxes/{ANN}/status")["export_dates"]
    page.select_option("#reset-type", "contact")
    page.select_option("#reset-direction", "export")
    page.click("#reset-dates")
    page.wait_for_selector("p.notice:text('Dates reset')")

    # bob's failed run left a warning: reset it
    page.goto(f"{stack.console}/mailboxes/{BOB}")
    assert "last run failed" in page.inner_text("#warning")
    page.click("#reset-warning")
    page.wait_for_selector("p.notice:text('Warning cleared.')")
    assert page.inner_text("#warning") == "none"
    page.click("#clear-log")
    page.wait_for_selector("p.notice:text('Log cleared.')")

    page.goto(f"{stack.console}/health")
    page.wait_for_selector("#doctor table, #doctor p")
    page.wait_for_selector("#credentials table")
    # ann may run again on Graph's change notification; bob fails exactly once
    assert chart_total(page, 0) >= 2 and chart_total(page, 1) == 1
    shot(page, "health")

    # the same, through the API's data
    policy = api_json(stack, "/policies/sales")
    assert policy["description"] == "Sales team"
    assert policy["contacts"]["sync_without_category"] is True
    assert policy["contacts"]["hyperlink"] == "https://erp.contoso.com/"
    server = api_json(stack, "/servers/m365")
    assert (server["default_policy"], server["logging_level"], server["graph_base_url"]) == \
        ("sales", "verbose", stack.graph_url)
    mailboxes = {m["email"]: m for m in api_json(stack, "/servers/m365/mailboxes")}
    assert (mailboxes[ANN]["policy"], mailboxes[BOB]["policy"]) == (None, "sales")
    assert mailboxes[ANN]["employee_id"] == "EP00000001"
    ann = api_json(stack, f"/mailboxes/{ANN}/status")
    assert ann["last_run"]["state"] == "succeeded"
    assert "contact" not in ann["export_dates"] and "contact" in ann["import_dates"]
    assert [c["emailAddresses"][0]["address"] for c in stack.graph_get(f"users/{ANN}/contacts")] == \
        ["ada@example.com"]
    bob = api_json(stack, f"/mailboxes/{BOB}/status")
    assert bob["last_run"]["state"] == "failed" and bob["warning"] is None
    assert api_json(stack, f"/mailboxes/{BOB}/log")["entries"] == []
    assert api_json(stack, f"/mailboxes/{ANN}/log")["entries"]
