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
READER_MB = "reader@contoso.test"


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
    """Under ``make screenshots`` only: the viewport as a 64-colour PNG (a few tens of KB)."""
    folder = screenshot_dir()
    if folder is None:
        return
    import io

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(folder / f"{name}.png", optimize=True)


def sign_in(page: Any, stack: ConsoleStack, role: str = "admin") -> None:
    page.goto(f"{stack.console}/signin?role={role}&return_to=/console/health")
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


def _seed_config(stack: ConsoleStack, policy: str, server: str, email: str) -> None:
    with stack.api() as api:
        assert api.put(f"/policies/{policy}", json={"name": policy, "description": "seeded"}).status_code in (200, 201)
        assert api.put(f"/servers/{server}", json={"name": server, "default_policy": policy, "client_id": "app",
                                                   "graph_base_url": stack.graph_url}).status_code in (200, 201)
        assert api.put(f"/servers/{server}/mailboxes/{email}", json={"employee_id": "EP00000001"}).status_code \
            in (200, 201)


def test_reader_sees_everything_changes_nothing(page: Any, stack: ConsoleStack) -> None:
    _seed_config(stack, "readonly", "ro-server", READER_MB)
    before = (api_json(stack, "/policies/readonly"), api_json(stack, "/servers/ro-server"))
    sign_in(page, stack, "reader")
    assert "(reader)" in page.inner_text("header")

    page.goto(f"{stack.console}/policies/readonly")
    assert page.input_value("#f-description") == "seeded"
    assert page.locator("button:text('Save')").count() == 0
    assert page.locator("button:text('Delete policy')").count() == 0
    page.goto(f"{stack.console}/servers/ro-server")
    assert page.locator("#test-server, #initialize-server, #save-mailbox, button:text('Save')").count() == 0
    page.goto(f"{stack.console}/sync")
    assert page.locator("#process, #process-all, button:text('Save schedule')").count() == 0
    page.goto(f"{stack.console}/mailboxes/{READER_MB}")
    assert page.locator("#reset-dates, #clear-log, #reset-warning").count() == 0
    shot(page, "reader")

    # the POSTs themselves are refused, with the reader's own valid CSRF token
    token = csrf_of(page)
    posts = {"policies/readonly": {"name": "readonly", "description": "changed"},
             "servers/ro-server/initialize": {}, "servers/ro-server/test": {},
             "sync/process-all": {}, f"mailboxes/{READER_MB}/clear-log": {},
             f"mailboxes/{READER_MB}/reset-warning": {},
             "servers/ro-server/schedule": {"schedule": "0 0 * * * *"}}
    for path, form in posts.items():
        response = page.request.post(f"{stack.console}/{path}", form={**form, "csrf": token})
        assert response.status == 403, (path, response.status)
        assert "Read only" in response.text()
    assert (api_json(stack, "/policies/readonly"), api_json(stack, "/servers/ro-server")) == before


def test_a_change_without_the_csrf_token_is_refused(page: Any, stack: ConsoleStack) -> None:
    _seed_config(stack, "guarded", "guarded-server", "guarded@contoso.test")
    before = api_json(stack, "/policies/guarded")
    sign_in(page, stack)
    page.goto(f"{stack.console}/policies/guarded")
    token = csrf_of(page)
    pairs = page.eval_on_selector("form.record", "f => Array.from(new FormData(f))")
    form = {k: v for k, v in pairs if k != "csrf"} | {"description": "changed by a forged form"}
    for extra, headers in (({}, {}), ({"csrf": "forged"}, {}), ({}, {"X-CSRF-Token": token[:-2] + "xx"})):
        response = page.request.post(f"{stack.console}/policies/guarded", form={**form, **extra}, headers=headers)
        assert response.status == 403 and "CSRF" in response.text(), response.status
    assert api_json(stack, "/policies/guarded") == before
    # the htmx header alone is enough, like every htmx request sends it
    response = page.request.post(f"{stack.console}/policies/guarded", form=form, headers={"X-CSRF-Token": token})
    assert response.status == 200
    assert api_json(stack, "/policies/guarded")["description"] == "changed by a forged form"


def test_someone_else_changed_the_record_offers_a_reload(page: Any, stack: ConsoleStack) -> None:
    _seed_config(stack, "contested", "contested-server", "contested@contoso.test")
    sign_in(page, stack)
    page.goto(f"{stack.console}/policies/contested")
    with stack.api() as api:  # another admin saves first
        assert api.put("/policies/contested", json={"name": "contested", "description": "theirs"}).status_code == 200
    page.fill("#f-description", "mine")
    page.click("button:text('Save')")
    page.wait_for_selector(".conflict")
    assert "Someone else changed this record" in page.inner_text(".conflict")
    assert page.input_value("#f-description") == "mine"   # nothing typed is lost
    assert api_json(stack, "/policies/contested")["description"] == "theirs"
    shot(page, "conflict")
    page.click(".conflict a:text('Reload')")
    page.wait_for_selector("h1:text('Policy contested')")
    assert page.input_value("#f-description") == "theirs"


def test_no_session_redirects_to_sign_in_and_static_files_are_cacheable(page: Any, stack: ConsoleStack) -> None:
    response = page.request.get(f"{stack.console}/policies", max_redirects=0)
    assert response.status == 303 and "/console/signin?return_to=" in response.headers["location"]
    root = page.request.get(stack.console, max_redirects=0)   # /console itself is the console too
    assert root.status == 303 and root.headers["location"].startswith("/console/signin?return_to=")
    assert page.request.post(f"{stack.console}/sync/process-all", form={}).status == 401
    page.goto(f"{stack.console}/signin?role=none&return_to=/console/policies")
    assert "no console role" in page.inner_text("body")
    sign_in(page, stack)
    head = page.locator("script[src*='htmx.min.js']").get_attribute("src")
    asset = page.request.get(f"{stack.stack.host.base_url}{head}")  # type: ignore[union-attr]
    assert asset.status == 200 and asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.text().startswith("/* htmx.org 4.0.1")
    stale = page.request.get(f"{stack.console}/static/console.css?v=old")
    assert stale.headers["cache-control"] == "no-cache"
    csp = page.request.get(f"{stack.console}/health").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id)"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.slow
def test_every_input_is_labelled_nothing_secret_shows_keyboard_works_and_a_tablet_needs_no_sideways_scroll(
        browser: Any, stack: ConsoleStack) -> None:
    _seed_config(stack, "keyboard", "keyboard-server", "keys@contoso.test")
    pages = ["health", "policies", "policies/new", "policies/keyboard", "servers", "servers/new",
             "servers/keyboard-server", "sync", "mailboxes/keys@contoso.test", "system-mailboxes",
             "system-mailboxes/new"]
    assert stack.stack is not None
    secrets = [stack.stack.env[k] for k in ("EXSYNC_GRAPH_CLIENT_STATE", "EXSYNC_ERP_WEBHOOK_SECRET")]
    for viewport in ({"width": 1280, "height": 800}, {"width": 768, "height": 1024}):
        context = browser.new_context(viewport=viewport)
        try:
            page = context.new_page()
            sign_in(page, stack)
            for path in pages:
                page.goto(f"{stack.console}/{path}")
                assert page.evaluate(UNLABELLED) == [], path
                assert page.evaluate(OVERFLOW) <= 0, (path, viewport)
                html = page.content()
                assert not [s for s in secrets if s in html], path   # nothing secret is ever rendered
        finally:
            context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        sign_in(page, stack)
        page.goto(f"{stack.console}/sync?server=keyboard-server")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        for _ in range(40):   # Tab to the mailbox's checkbox, tick it with Space, Tab on to Process
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.value") == "keys@contoso.test":
                break
        page.keyboard.press("Space")
        page.keyboard.press("Shift+Tab")
        for _ in range(10):
            if page.evaluate("document.activeElement.id") == "process":
                break
            page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector("p.notice:text('Queued')")
    finally:
        context.close()
    # the mailbox had never run: the keyboard's Process queued it
    assert api_json(stack, "/mailboxes/keys@contoso.test/status")["last_run"] is not None


SUPPORT = "support@contoso.test"


def test_system_mailboxes_are_created_edited_and_deleted_through_the_api(page: Any, stack: ConsoleStack) -> None:
    _seed_config(stack, "support", "support-server", "agent@contoso.test")
    sign_in(page, stack)
    page.goto(f"{stack.console}/system-mailboxes")
    page.click("#new-system-mailbox")
    page.wait_for_selector("h1:text('New system mailbox')")

    # a contradiction is refused next to its field, nothing typed is lost
    page.fill("#f-address", SUPPORT)
    page.select_option("#f-server", "support-server")
    page.fill("#f-display-name", "Support")
    page.select_option("#f-incoming-new-conversation", "create_case")
    page.fill("#f-incoming-case-class", "")
    page.fill("#f-incoming-allowed-attachment-types", "pdf, png")
    page.fill("#f-incoming-confirm-receipt-body", "We opened case {case_id} for you.")
    page.fill("#f-sending-erp-account-id", "7")
    page.click("button:text('Save')")
    error = page.locator("#f-incoming-case-class-err")
    assert "create_case" in error.inner_text()
    assert page.get_attribute("#f-incoming-case-class", "aria-invalid") == "true"
    assert page.input_value("#f-display-name") == "Support"
    assert page.input_value("#f-incoming-confirm-receipt-body") == "We opened case {case_id} for you."
    page.fill("#f-incoming-case-class", "SUPPORT")
    page.click("button:text('Save')")
    page.wait_for_selector("p.notice:text('Created.')")
    assert page.inner_text("h1") == f"System mailbox {SUPPORT}"
    assert page.get_attribute("#f-address", "readonly") is not None
    shot(page, "system-mailbox")

    with stack.api() as api:   # the console wrote what the API reads
        made = api.get(f"/system-mailboxes/{SUPPORT}").json()
    assert (made["server"], made["display_name"], made["incoming"]["case_class"]) == ("support-server", "Support",
                                                                                       "SUPPORT")
    assert made["incoming"]["allowed_attachment_types"] == ["pdf", "png"]
    assert made["incoming"]["confirm_receipt"] == {"subject": "RE: {subject}",
                                                   "body": "We opened case {case_id} for you."}
    assert made["incoming"]["reply_to_unassigned"] is None
    assert made["sending"] == {"erp_account_id": 7, "suspended": False, "max_message_mb": 35}

    # another admin saves first: the console says so and reloads their version
    with stack.api() as api:
        theirs = {**made, "display_name": "Their support"}
        assert api.put(f"/system-mailboxes/{SUPPORT}", json=theirs).status_code == 200
    page.check("#f-sending-suspended")
    page.click("button:text('Save')")
    page.wait_for_selector(".conflict")
    assert page.is_checked("#f-sending-suspended")   # nothing typed is lost
    page.click(".conflict a:text('Reload')")
    page.wait_for_selector(f"h1:text('System mailbox {SUPPORT}')")
    assert page.input_value("#f-display-name") == "Their support" and not page.is_checked("#f-sending-suspended")
    page.check("#f-sending-suspended")
    page.click("button:text('Save')")
    page.wait_for_selector("p.notice:text('Saved.')")
    with stack.api() as api:
        assert api.get(f"/system-mailboxes/{SUPPORT}").json()["sending"]["suspended"] is True

    # Test answers what the API answers
    page.click("#sm-test")
    page.wait_for_selector("#sm-result h3:text('Test')")
    check = page.request.post(f"{stack.console}/system-mailboxes/{SUPPORT}/test", form={"csrf": csrf_of(page)})
    with stack.api() as api:
        assert check.status == api.post(f"/system-mailboxes/{SUPPORT}/test").status_code

    # a reader sees the settings, changes nothing
    before = api_json(stack, f"/system-mailboxes/{SUPPORT}")
    sign_in(page, stack, "reader")
    page.goto(f"{stack.console}/system-mailboxes")
    assert page.locator("#new-system-mailbox").count() == 0
    page.click(f"#system-mailboxes a:text('{SUPPORT}')")
    page.wait_for_selector(f"h1:text('System mailbox {SUPPORT}')")
    assert page.input_value("#f-display-name") == "Their support" and page.is_disabled("#f-display-name")
    assert page.locator("main button").count() == 0
    token = csrf_of(page)
    for path, form in ((f"system-mailboxes/{SUPPORT}", {"address": SUPPORT, "server": "support-server"}),
                       (f"system-mailboxes/{SUPPORT}/delete", {}), (f"system-mailboxes/{SUPPORT}/run", {}),
                       ("system-mailboxes", {"address": "other@contoso.test", "server": "support-server"})):
        refused = page.request.post(f"{stack.console}/{path}", form={**form, "csrf": token})
        assert refused.status == 403, path
    assert api_json(stack, f"/system-mailboxes/{SUPPORT}") == before
    assert [m["address"] for m in api_json(stack, "/system-mailboxes")] == [SUPPORT]

    # the admin deletes it
    sign_in(page, stack)
    page.goto(f"{stack.console}/system-mailboxes/{SUPPORT}")
    page.click("#delete-system-mailbox")
    page.wait_for_selector("p.notice:text('Deleted.')")
    assert "No system mailboxes yet." in page.inner_text("#system-mailboxes")
    with stack.api() as api:
        assert api.get(f"/system-mailboxes/{SUPPORT}").status_code == 404
