"""Form ↔ API body conversions: dotted names, checkboxes, blanks, credential kinds, error placement."""

from __future__ import annotations

from shared.console import forms, render
from shared.domain.config import ServerConfig, SyncPolicy, parse
from shared.mailproc.model import SystemMailbox

POLICY_FIELDS = forms.fields_of(forms.POLICY_FORM)


def _form(values: dict[str, str]) -> dict[str, list[str]]:
    return {k: [v] for k, v in values.items()}


def test_a_policy_round_trips_through_its_form() -> None:
    policy = SyncPolicy(name="sales", description="d", contacts={"folder": "ERP", "hyperlink": "https://e.x/"},
                        emails={"sync_attachments": False})
    values = forms.form_values(POLICY_FIELDS, policy.model_dump(mode="json"))
    submitted = {k: ("true" if v is True else "" if v in (None, False) else str(v))
                 for k, v in values.items() if v is not False}
    assert parse(SyncPolicy, forms.body_from_form(POLICY_FIELDS, _form(submitted))) == policy


def test_unchecked_boxes_are_false_and_blank_optional_texts_are_null() -> None:
    body = forms.body_from_form(POLICY_FIELDS, _form({"name": "p", "contacts.folder": "", "emails.folder": "ERP"}))
    assert body["contacts"]["enabled"] is False and body["continue_on_error"] is False
    assert body["contacts"]["folder"] is None
    assert "conflict_resolution" not in body   # an empty choice: the API's default


def test_only_the_chosen_credential_kinds_fields_are_sent() -> None:
    fields = forms.fields_of(forms.server_form(["sales"]))
    form = _form({"name": "s", "credential.kind": "key_vault_secret",
                  "credential.vault_url": "https://v.vault.azure.net/",
                  "credential.secret_name": "app", "credential.secret_setting": "LEFT_OVER",
                  "accounts_in_batch": "10", "schedule": "0 */5 * * * *", "tenant_id": "t", "client_id": "c",
                  "graph_base_url": "https://graph.microsoft.com/v1.0"})
    body = forms.body_from_form(fields, form)
    assert body["credential"] == {"kind": "key_vault_secret", "vault_url": "https://v.vault.azure.net/",
                                  "secret_name": "app"}
    assert body["accounts_in_batch"] == 10   # typed: the API's bodies are strict
    assert parse(ServerConfig, body).accounts_in_batch == 10
    odd = forms.body_from_form(fields, _form({"mass_delete_threshold": "0.5", "max_attachment_kb": "lots"}))
    assert (odd["mass_delete_threshold"], odd["max_attachment_kb"]) == (0.5, "lots")   # the API names "lots"


def test_api_errors_land_next_to_their_field_or_above_the_form() -> None:
    by_field, other = forms.errors_by_field(POLICY_FIELDS, {
        "contacts.hyperlink": "expected <protocol>://<host>/", "category": "bad", "(body)": "x"})
    assert by_field["contacts.hyperlink"].startswith("expected")
    assert other == ["category: bad", "(body): x"]
    nested, _ = forms.errors_by_field(forms.fields_of(forms.server_form([])), {"credential.vault_url.x": "bad"})
    assert nested == {"credential.vault_url": "bad"}


SYSTEM_FIELDS = forms.fields_of(forms.system_mailbox_form(["m365"]))


def _submitted(values: dict[str, object]) -> dict[str, str]:
    """What a browser posts for rendered values: checked boxes as "true", unchecked ones absent."""
    return {k: ("true" if v is True else "" if v is None else str(v)) for k, v in values.items() if v is not False}


def test_a_system_mailbox_round_trips_through_its_form() -> None:
    mailbox = SystemMailbox(address="support@contoso.com", server="m365", display_name="Support",
                            incoming={"case_class": "SUPPORT", "allowed_attachment_types": ["pdf", "png"],
                                      "confirm_receipt": {"body": "We have case {case_id}."},
                                      "route_employee_mail": True},
                            sending={"erp_account_id": 7, "suspended": True})
    values = forms.form_values(SYSTEM_FIELDS, mailbox.model_dump(mode="json"))
    assert values["incoming.allowed_attachment_types"] == "pdf, png"
    assert parse(SystemMailbox, forms.body_from_form(SYSTEM_FIELDS, _form(_submitted(values)))) == mailbox


AUTOMATIC_REPLY = {
    # (subject typed, text typed) -> the API body's confirm_receipt
    ("", ""): None,
    ("", "Thanks"): {"body": "Thanks"},                        # the API's default subject applies
    ("Got it: {subject}", "Thanks"): {"subject": "Got it: {subject}", "body": "Thanks"},
    ("Got it", ""): {"subject": "Got it"},                     # the API names the missing text
}


def test_an_automatic_reply_with_empty_inputs_is_not_set() -> None:
    for (subject, text), expected in AUTOMATIC_REPLY.items():
        form = _form({"address": "a@b.cd", "server": "m365", "incoming.confirm_receipt.subject": subject,
                      "incoming.confirm_receipt.body": text, "incoming.allowed_attachment_types": " pdf,, PNG "})
        body = forms.body_from_form(SYSTEM_FIELDS, form)
        assert body["incoming"]["confirm_receipt"] == expected, (subject, text)
        assert body["incoming"]["allowed_attachment_types"] == ["pdf", "PNG"]
        assert "erp_account_id" not in body["sending"]   # empty number: the API's default (sends nothing)


def test_coded_choices_are_offered_in_words_and_submitted_as_the_apis_values() -> None:
    fields = {f.name: f for f in forms.fields_of(forms.system_mailbox_form(["main"]))}
    after = fields["incoming.after_processing"]
    assert [after.option_label(c) for c in after.choices] == [
        "Leave it as it is", "Mark it read", "Move it to a folder", "Delete it"]
    assert after.choices == ("keep", "mark_read", "move", "delete")        # the API's values are sent
    closed = fields["incoming.closed_case"]
    assert closed.option_label("reopen") == "Reopen the case"
    assert fields["server"].option_label("main") == "main"                # names are shown as they are
    macro = render.environment().from_string('{% import "macros.html" as m %}{{ m.field(f, values, {}) }}')
    html = macro.render(f=closed, values={"incoming.closed_case": "new_case"})
    assert '<option value="new_case" selected>Open a new case</option>' in html
    assert '<option value="reopen">Reopen the case</option>' in html
