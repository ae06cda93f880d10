"""The security and platform properties issue 8 asks for, read from the parsed templates."""

from __future__ import annotations

from typing import Any

import pytest


def _resource(parsed: dict[str, dict[str, Any]], file: str, name: str) -> dict[str, Any]:
    config = parsed[file]["resources"][name]["config"]
    return config.get("config", config) if "condition" in config else config


def test_flex_consumption_python_311_with_scale_parameters(parsed: dict[str, dict[str, Any]]) -> None:
    plan = _resource(parsed, "modules/functionapp.bicep", "plan")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = _resource(parsed, "modules/functionapp.bicep", "site")
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["scaleAndConcurrency"] == {"maximumInstanceCount": "maximumInstanceCount",
                                             "instanceMemoryMB": "instanceMemoryMB"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    main_params = parsed["main.bicep"]["parameters"]
    assert {"maximumInstanceCount", "instanceMemoryMB"} <= set(main_params)
    assert site["properties"]["httpsOnly"] is True
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"


def test_storage_is_locked_to_entra_auth(parsed: dict[str, dict[str, Any]]) -> None:
    props = _resource(parsed, "modules/storage.bicep", "storage")["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["allowBlobPublicAccess"] is False
    resources = parsed["modules/storage.bicep"]["resources"]
    assert {"deploymentContainer", "syncQueue", "poisonQueue", "tables"} <= set(resources)


def test_key_vault_rbac_soft_delete_purge_protection(parsed: dict[str, dict[str, Any]]) -> None:
    props = _resource(parsed, "modules/keyvault.bicep", "vault")["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enableSoftDelete"] is True
    assert props["enablePurgeProtection"] is True


def test_secret_expiry_events_route_to_an_alert(parsed: dict[str, dict[str, Any]]) -> None:
    sub = _resource(parsed, "modules/keyvault.bicep", "expiryAlerts")["properties"]
    assert "Microsoft.KeyVault.SecretNearExpiry" in sub["filter"]["includedEventTypes"]
    assert sub["destination"]["endpointType"] == "MonitorAlert"
    assert sub["destination"]["properties"]["actionGroups"] == ["actionGroupId"]
    secret = _resource(parsed, "modules/kv-secret.bicep", "secret")["properties"]
    assert secret["attributes"]["exp"] == "expiresOn"


@pytest.mark.parametrize("rule", ["credential-expiry", "sync-failures", "poison-messages", "throttling-spike"])
def test_alert_rules_exist(parsed: dict[str, dict[str, Any]], rule: str) -> None:
    rules = parsed["modules/alerts.bicep"]["variables"]["rules"]["value"]
    assert rule in [r["name"] for r in rules]


def test_sync_failures_alert_is_per_mailbox(parsed: dict[str, dict[str, Any]]) -> None:
    rules = {r["name"]: r for r in parsed["modules/alerts.bicep"]["variables"]["rules"]["value"]}
    assert rules["sync-failures"]["dimension"] == "mailbox"
    assert "by mailbox" in rules["sync-failures"]["query"]


def test_secrets_officer_only_when_rotation_is_on(parsed: dict[str, dict[str, Any]]) -> None:
    choice = parsed["modules/roles.bicep"]["variables"]["vaultRole"]["value"]["operator"]
    assert choice["operands"]["condition"] == "rotationEnabled"
    assert choice["operands"]["true_value"]["operator"]["operands"]["operand_2"] == "keyVaultSecretsOfficer"
    assert choice["operands"]["false_value"]["operator"]["operands"]["operand_2"] == "keyVaultSecretsUser"
    roles = parsed["modules/roles.bicep"]["variables"]["roleIds"]["value"]
    assert set(roles) == {"storageBlobDataOwner", "storageQueueDataContributor", "storageTableDataContributor",
                          "keyVaultSecretsUser", "keyVaultSecretsOfficer", "monitoringMetricsPublisher"}


def test_federated_credential_is_optional_and_trusts_the_token_exchange(parsed: dict[str, dict[str, Any]]) -> None:
    fic = parsed["modules/entra-app.bicep"]["resources"]["federatedCredential"]
    assert fic["type"] == "Microsoft.Graph/applications/federatedIdentityCredentials"
    assert "condition" in fic["config"]
    assert fic["config"]["config"]["audiences"] == ["api://AzureADTokenExchange"]


def test_workbook_is_deployed_with_its_queries(parsed: dict[str, dict[str, Any]]) -> None:
    import json

    from tests.infra.conftest import INFRA

    workbook = json.loads((INFRA / "modules" / "sync-health.workbook.json").read_text(encoding="utf-8"))
    titles = [item["content"].get("title") for item in workbook["items"] if item["type"] == 3]
    assert "Sync health per mailbox" in titles
    assert "sync-health.workbook.json" in json.dumps(parsed["modules/workbook.bicep"]["variables"]["content"])


def test_state_tables_match_the_state_store(parsed: dict[str, dict[str, Any]]) -> None:
    from shared.state import config_upgrade, table

    assert parsed["main.bicep"]["parameters"]["stateTableNames"]["default"] == [
        *table.TABLES, *config_upgrade.LEGACY_TABLES]
