"""The Function App gets every app setting exsync reads, secrets only as Key Vault references."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.conftest import ROOT

REQUIRED = {
    "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
    "EXSYNC_STATE_TABLE_ENDPOINT", "EXSYNC_QUEUE_ENDPOINT", "EXSYNC_SYNC_QUEUE", "EXSYNC_SCHEDULE",
    "EXSYNC_KEY_VAULT_URL", "EXSYNC_CLIENT_SECRET_NAME", "EXSYNC_TENANT_ID", "EXSYNC_CLIENT_ID",
    "EXSYNC_LOG_RETENTION_DAYS", "EXSYNC_ALERT_EMAILS", "EXSYNC_ALERT_SENDER", "EXSYNC_ALERT_WEBHOOK_URL",
    "EXSYNC_ROTATION_ENABLED", "EXSYNC_ERP_URL", "EXSYNC_ERP_TENANT", "EXSYNC_ERP_USERNAME",
    "EXSYNC_ERP_PASSWORD_SECRET_NAME", "EXSYNC_ERP_WEBHOOK_SECRET", "EXSYNC_GRAPH_NOTIFICATION_URL",
    "EXSYNC_GRAPH_CLIENT_STATE", "APPLICATIONINSIGHTS_CONNECTION_STRING",
}
SECRETS = {"EXSYNC_ALERT_WEBHOOK_URL", "EXSYNC_ERP_PASSWORD", "EXSYNC_ERP_WEBHOOK_SECRET", "EXSYNC_GRAPH_CLIENT_STATE"}
# Settings a local run needs but Azure must not get: connection strings carry account keys.
LOCAL_ONLY = {"AzureWebJobsStorage", "EXSYNC_STATE_CONNECTION", "FUNCTIONS_WORKER_RUNTIME"}


@pytest.fixture(scope="module")
def settings(parsed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return dict(parsed["main.bicep"]["variables"]["appSettings"]["value"])


def test_every_required_setting_is_set(settings: dict[str, Any]) -> None:
    assert sorted(REQUIRED - set(settings)) == []


def test_no_connection_string_reaches_azure(settings: dict[str, Any]) -> None:
    assert not LOCAL_ONLY & set(settings)
    assert not [k for k, v in settings.items() if isinstance(v, str) and "AccountKey=" in v]


def test_secrets_are_key_vault_references(parsed: dict[str, dict[str, Any]], settings: dict[str, Any]) -> None:
    prefix = parsed["main.bicep"]["variables"]["vaultRef"]["value"]
    assert prefix.startswith("@Microsoft.KeyVault(VaultName=")
    for name in SECRETS:
        assert isinstance(settings[name], str) and settings[name].startswith("${vaultRef}"), name


def test_secure_parameters_never_flow_into_app_settings(parsed: dict[str, dict[str, Any]],
                                                        settings: dict[str, Any]) -> None:
    params = parsed["main.bicep"]["parameters"]
    secure = {name for name, p in params.items() if any(d["type"] == "secure" for d in p["decorators"])}
    assert {"erpPassword", "erpWebhookSecret", "graphClientState", "alertWebhookUrl"} <= secure
    used = _identifiers(settings)
    assert "keyVaultName" not in secure and {"storage", "identity"} <= used  # the walk finds references
    assert sorted(secure & used) == []


def _identifiers(node: Any, key: str = "") -> set[str]:
    """Names a pycep value tree refers to: bare identifiers and the roots of ${...} interpolations."""
    if isinstance(node, dict):
        return set().union(*(_identifiers(v, k) for k, v in node.items())) if node else set()
    if isinstance(node, list):
        return set().union(*(_identifiers(v) for v in node)) if node else set()
    if not isinstance(node, str) or key == "operand_2":  # operand_2 is a property name, not a reference
        return set()
    found = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", node))
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node):
        found.add(node)
    return found


def test_settings_in_the_local_sample_are_deployed(settings: dict[str, Any]) -> None:
    """Every setting of local.settings.sample.json reaches Azure, unless the app has a default for it."""
    sample = ROOT / "local.settings.sample.json"
    from shared import settings as app_settings

    defaults = {field.alias for field in app_settings.Settings.model_fields.values()
                if field.alias and field.default is not None}
    values = json.loads(sample.read_text(encoding="utf-8")).get("Values", {})
    local = {k for k in values if k.startswith(("EXSYNC_", "APPLICATIONINSIGHTS_"))}
    missing = local - set(settings) - LOCAL_ONLY
    assert sorted(missing - defaults) == [], "add them to appSettings in infra/main.bicep"
