"""The Function App gets every app setting exsync reads, secrets only as Key Vault references."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.settings import PLATFORM_SETTINGS, setting_names

# Every setting Azure must get is listed once, in shared/settings.py (see test_settings_equal.py).
REQUIRED = set(setting_names("both")) | {n for n, (where, _) in PLATFORM_SETTINGS.items() if where != "local"}
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
