"""The simulator's Entra-like token endpoint, through exsync's production credential providers
(azure-identity's ClientSecretCredential) routed there by the local host's transport."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from devhost import entra
from devhost.services import Simulator
from shared.credentials.providers import GRAPH_SCOPE, build_credential
from shared.domain.config import EnvironmentCredential, ServerConfig
from shared.errors import AuthenticationFailed


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


def _secret(simulator: Simulator, **spec: str) -> str:
    r = httpx.post(f"{simulator.base_url}/v1.0/applications/{entra.SIM_APP_OBJECT_ID}/addPassword",
                   headers={"Authorization": "Bearer admin"}, json={"passwordCredential": spec}, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["secretText"])


async def _token(simulator: Simulator, secret: str, client_id: str = entra.SIM_APP_ID) -> str:
    server = ServerConfig(name="local", tenant_id=entra.LOCAL_TENANT, client_id=client_id,
                          credential=EnvironmentCredential(), graph_base_url=f"{simulator.base_url}/v1.0")
    options = entra.provider_options(simulator.base_url, {"EXSYNC_CLIENT_SECRET": secret})
    async with build_credential(server, options) as credential:
        return str((await credential.get_token(GRAPH_SCOPE)).token)


async def test_a_valid_secret_gets_a_token_with_the_granted_roles(simulator: Simulator) -> None:
    claims = _claims(await _token(simulator, _secret(simulator, displayName="test")))
    assert claims["appid"] == entra.SIM_APP_ID and claims["tid"] == entra.LOCAL_TENANT
    assert {"Contacts.ReadWrite", "Mail.Send", "Application.Read.All"} <= set(claims["roles"])
    assert "Application.ReadWrite.OwnedBy" not in claims["roles"]


@pytest.mark.parametrize(("spec", "given", "code"), [
    ({"displayName": "wrong"}, "not-the-secret", "AADSTS7000215"),
    ({"displayName": "old", "startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2021-01-01T00:00:00Z"},
     None, "AADSTS7000222"),
])
async def test_bad_secrets_fail_with_entras_codes(simulator: Simulator, spec: dict[str, str], given: str | None,
                                                  code: str) -> None:
    secret = _secret(simulator, **spec)
    with pytest.raises(AuthenticationFailed) as err:
        await _token(simulator, given or secret)
    assert err.value.code == code


@pytest.mark.parametrize(("form", "code"), [
    ({"client_id": "00000000-0000-0000-0000-000000000000", "scope": "https://graph.microsoft.com/.default"},
     700016),
    ({"client_id": entra.SIM_APP_ID, "scope": "https://graph.microsoft.com/Mail.Read"}, 1002012),
    ({"client_id": entra.SIM_APP_ID, "scope": "https://graph.microsoft.com/.default", "grant_type": "password"},
     70003),
])
def test_protocol_errors(simulator: Simulator, form: dict[str, str], code: int) -> None:
    body = {"grant_type": "client_credentials", "client_secret": "x", **form}
    r = httpx.post(f"{simulator.base_url}/_sim/login/contoso.test/oauth2/v2.0/token", data=body, timeout=10)
    assert r.status_code == 400 and r.json()["error_codes"] == [code], r.text


async def test_granted_roles_can_be_narrowed(simulator: Simulator) -> None:
    url = f"{simulator.base_url}/_sim/login/roles"
    secret = _secret(simulator, displayName="narrow")
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            assert (await client.put(url, json={"roles": ["Contacts.ReadWrite"]})).status_code == 200
            claims = _claims(await _token(simulator, secret))
            assert claims["roles"] == ["Contacts.ReadWrite"]
            assert (await client.put(url, json={"roles": "all"})).status_code == 400
        finally:
            (await client.put(url, json={"roles": entra_default_roles()})).raise_for_status()


def entra_default_roles() -> list[str]:
    from sim.graph.resources.entra import default_roles

    return default_roles()
