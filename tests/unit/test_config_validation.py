"""Policy, server and mailbox validation: every option with a bad value names its field."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.config import (
    CATEGORY_COLORS,
    ConflictResolution,
    Direction,
    Mailbox,
    ServerConfig,
    SyncPolicy,
    parse,
)
from shared.errors import ValidationFailed


def _nested(path: str, value: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    node = body
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return body


BAD_POLICY_VALUES = [
    ("name", ""),
    ("name", "bad/name"),
    ("description", "x" * 2000),
    ("category.name", ""),
    ("category.color", "pink"),
    ("category.color", "preset25"),
    ("conflict_resolution", "newest"),
    ("continue_on_error", "sometimes"),
    ("contacts.enabled", "maybe"),
    ("contacts.direction", "sideways"),
    ("contacts.merge_by_email", "perhaps"),
    ("contacts.folder", "f" * 300),
    ("contacts.sync_without_category", "often"),
    ("contacts.filter", "team"),
    ("contacts.contact_class", "TOO-LONG-CLASS"),
    ("contacts.hyperlink", "erp.contoso.com"),
    ("contacts.hyperlink", "ftp://erp.contoso.com/"),
    ("emails.enabled", "yes please"),
    ("emails.direction", "exchange_to_system"),
    ("emails.direction", "system_to_exchange"),
    ("emails.folder", ""),
    ("emails.sync_attachments", "all"),
    ("emails.create_unknown_contacts", "some"),
    ("tasks.enabled", "x"),
    ("tasks.direction", "both"),
    ("tasks.folder", "t" * 300),
    ("tasks.sync_without_category", "x"),
    ("events.enabled", "x"),
    ("events.direction", "both"),
    ("events.folder", "e" * 300),
    ("events.sync_without_category", "x"),
]


@pytest.mark.parametrize(("field", "value"), BAD_POLICY_VALUES)
def test_bad_policy_value_names_the_field(field: str, value: Any) -> None:
    body = {"name": "sales", **_nested(field, value)} if field != "name" else {"name": value}
    with pytest.raises(ValidationFailed) as info:
        parse(SyncPolicy, body)
    assert field in info.value.errors
    assert field in str(info.value)


def test_unknown_colour_message_says_the_fix() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(SyncPolicy, {"name": "p", "category": {"color": "pink"}})
    assert "preset0..preset24" in info.value.errors["category.color"]


def test_emails_must_be_bidirectional_and_say_so() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(SyncPolicy, {"name": "p", "emails": {"direction": "exchange_to_system"}})
    assert "bidirectional" in info.value.errors["emails.direction"]


def test_unknown_fields_are_rejected_by_name() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(SyncPolicy, {"name": "p", "colour": "red", "contacts": {"folders": "x"}})
    assert set(info.value.errors) == {"colour", "contacts.folders"}
    assert all("unknown field" in why for why in info.value.errors.values())


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(SyncPolicy, {"name": "p", "conflict_resolution": "x", "tasks": {"direction": "y"}})
    assert set(info.value.errors) == {"conflict_resolution", "tasks.direction"}


def test_policy_defaults_follow_the_product() -> None:
    policy = parse(SyncPolicy, {"name": "default"})
    assert policy.conflict_resolution is ConflictResolution.LAST_UPDATED
    assert policy.emails.direction is Direction.BIDIRECTIONAL
    assert policy.category.color in CATEGORY_COLORS
    assert all(p.enabled for p in (policy.contacts, policy.emails, policy.tasks, policy.events))


@pytest.mark.parametrize("color", CATEGORY_COLORS)
def test_every_outlook_preset_is_accepted(color: str) -> None:
    assert parse(SyncPolicy, {"name": "p", "category": {"color": color}}).category.color == color


@pytest.mark.parametrize("value", list(ConflictResolution))
def test_every_conflict_priority_is_accepted(value: ConflictResolution) -> None:
    assert parse(SyncPolicy, {"name": "p", "conflict_resolution": value.value}).conflict_resolution is value


BAD_SERVER_VALUES = [
    ("is_active", "sometimes"),
    ("default_policy", 12),
    ("tenant_id", ["x"]),
    ("client_id", {"a": 1}),
    ("graph_base_url", "graph.microsoft.com"),
    ("graph_base_url", "https://"),  # stored as "https:" it failed every later read of the server
    ("graph_base_url", "http:///v1.0"),
    ("logging_level", "debug"),
    ("max_attachment_kb", -1),
    ("max_attachment_kb", 10**9),
    ("accounts_in_batch", 0),
    ("update_batch_size", 0),
    ("update_batch_size", 5000),
    ("select_batch_size", 0),
    ("schedule", "every five minutes"),
    ("schedule", "*/5 * * * *"),
    ("mass_delete_threshold", 0),
    ("mass_delete_threshold", 1.5),
]


@pytest.mark.parametrize(("field", "value"), BAD_SERVER_VALUES)
def test_bad_server_value_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(ServerConfig, {"name": "m365", field: value})
    assert field in info.value.errors


@pytest.mark.parametrize(("credential", "field"), [
    ({"kind": "password"}, "credential"),
    ({"kind": "key_vault_secret", "secret_name": "s"}, "credential.vault_url"),
    ({"kind": "key_vault_secret", "vault_url": "http://kv", "secret_name": "s"}, "credential.vault_url"),
    ({"kind": "key_vault_secret", "vault_url": "https://kv.vault.azure.net"}, "credential.secret_name"),
    ({"kind": "key_vault_secret", "vault_url": "https://kv.vault.azure.net", "secret_name": "a_b"},
     "credential.secret_name"),
    ({"kind": "certificate"}, "credential"),
    ({"kind": "federated_identity"}, "credential.managed_identity_client_id"),
    ({"kind": "environment", "secret": "plain"}, "credential.secret"),
])
def test_bad_credential_reference_names_the_field(credential: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(ServerConfig, {"name": "m365", "credential": credential})
    assert field in info.value.errors, info.value.errors


def test_server_defaults_follow_the_product() -> None:
    server = parse(ServerConfig, {"name": "m365"})
    assert (server.max_attachment_kb, server.update_batch_size, server.select_batch_size) == (10240, 25, 100)
    assert server.graph_base_url == "https://graph.microsoft.com/v1.0"


def test_mailbox_validation_and_policy_fallback() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(Mailbox, {"email": "not-an-address", "server": "m365", "employee_id": ""})
    assert set(info.value.errors) == {"email", "employee_id"}
    server = parse(ServerConfig, {"name": "m365", "default_policy": "sales"})
    mailbox = parse(Mailbox, {"email": "Ann@Contoso.com", "server": "m365", "employee_id": "EP1"})
    assert mailbox.email == "ann@contoso.com"
    assert mailbox.policy_name(server) == "sales"
    assert mailbox.model_copy(update={"policy": "vip"}).policy_name(server) == "vip"
