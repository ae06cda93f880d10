"""Form ↔ API body conversions: dotted names, checkboxes, blanks, credential kinds, error placement."""

from __future__ import annotations

from shared.console import forms
from shared.domain.config import ServerConfig, SyncPolicy, parse

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
