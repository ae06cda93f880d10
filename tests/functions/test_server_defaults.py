"""A new server takes tenant, client id and credential from the deployment's settings, so the first
server needs only a name; what the body says wins."""

from __future__ import annotations

from typing import Any

import pytest

from shared.settings import Settings
from tests.functions.conftest import Env, call_http

TENANT, APP, MI = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", "mi-client"
VAULT = "https://exsync-kv.vault.azure.net/"
KV = {"kind": "key_vault_secret", "vault_url": VAULT, "secret_name": "exsync-client-secret"}


@pytest.mark.parametrize(("env", "defaults"), [
    ({}, {}),
    ({"EXSYNC_TENANT_ID": TENANT, "EXSYNC_CLIENT_ID": APP}, {"tenant_id": TENANT, "client_id": APP}),
    ({"EXSYNC_KEY_VAULT_URL": VAULT, "EXSYNC_CLIENT_SECRET_NAME": "exsync-client-secret"}, {"credential": KV}),
    ({"EXSYNC_KEY_VAULT_URL": VAULT, "EXSYNC_CLIENT_SECRET_NAME": "", "AZURE_CLIENT_ID": MI,
      "EXSYNC_CLIENT_ID": APP},
     {"client_id": APP, "credential": {"kind": "federated_identity", "managed_identity_client_id": MI}}),
    ({"EXSYNC_KEY_VAULT_URL": VAULT, "AZURE_CLIENT_ID": MI}, {}),  # no app registration: nothing to federate
    ({"EXSYNC_KEY_VAULT_URL": VAULT, "EXSYNC_CLIENT_SECRET_NAME": "s", "AZURE_CLIENT_ID": MI},
     {"credential": {**KV, "secret_name": "s"}}),
])
def test_server_defaults(env: dict[str, str], defaults: dict[str, Any]) -> None:
    assert Settings.from_env(env).server_defaults() == defaults


async def test_a_server_with_only_a_name_gets_the_deployment_defaults(env: Env) -> None:
    env.rt.settings = Settings.from_env({
        **{k: v for k, v in env.rt.settings.model_dump(by_alias=True).items() if isinstance(v, str)},
        "EXSYNC_TENANT_ID": TENANT, "EXSYNC_CLIENT_ID": APP, "EXSYNC_KEY_VAULT_URL": VAULT,
        "EXSYNC_CLIENT_SECRET_NAME": "exsync-client-secret"})
    status, body, _ = await call_http("admin_servers", "POST", "servers", {"name": "m365"})
    assert status == 201, body
    assert (body["tenant_id"], body["client_id"], body["credential"]) == (TENANT, APP, KV)
    own = {"kind": "environment", "secret_setting": "OTHER_SECRET"}
    status, body, _ = await call_http("admin_servers_name", "PUT", "servers/other",
                                      {"name": "other", "tenant_id": "contoso.onmicrosoft.com", "credential": own},
                                      route={"name": "other"})
    assert status == 201, body
    assert (body["tenant_id"], body["client_id"], body["credential"]) == ("contoso.onmicrosoft.com", APP, own)
