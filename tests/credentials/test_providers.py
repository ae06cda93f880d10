"""Credential providers against the fake Entra ID and the fake Key Vault (through the SDK transports)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared.credentials.graph_admin import InMemoryGraphAdmin
from shared.credentials.providers import GRAPH_SCOPE, ProviderOptions, build_credential
from shared.domain.config import (
    CertificateCredential,
    EnvironmentCredential,
    FederatedIdentityCredential,
    KeyVaultSecretCredential,
)
from shared.errors import AuthenticationFailed, NotFound, ValidationFailed
from tests.credentials.conftest import APP_ID, SECRET_NAME, Clock, b64, make_certificate, make_server
from tests.credentials.fakes import VAULT_URL, FakeTenant, jwt_claims

OTHER_SCOPE = "https://graph.microsoft.com/other/.default"  # a scope the token cache has not seen


async def _password(graph: InMemoryGraphAdmin, clock: Clock, days: int = 90) -> str:
    app = await graph.get_application(APP_ID) if graph.apps else graph.add_app(APP_ID)
    return (await graph.add_password(app.object_id, "exsync", clock() + timedelta(days=days))).secret_text


async def test_key_vault_secret_gives_a_graph_token(options: ProviderOptions, tenant: FakeTenant,
                                                    graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    tenant.put_secret(SECRET_NAME, await _password(graph_twin, clock))
    async with build_credential(make_server(), options) as credential:
        token = await credential.get_token(GRAPH_SCOPE)
    assert jwt_claims(token.token)["appid"] == APP_ID
    assert tenant.token_requests and tenant.token_requests[0]["grant_type"] == "client_credentials"


async def test_secret_is_cached_for_the_ttl_then_read_again(options: ProviderOptions, tenant: FakeTenant,
                                                          graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    tenant.put_secret(SECRET_NAME, await _password(graph_twin, clock))
    async with build_credential(make_server(), options) as credential:
        await credential.get_token(GRAPH_SCOPE)
        await credential.get_token(OTHER_SCOPE)
        reads = [r for r in tenant.vault_requests if r == ("GET", SECRET_NAME)]
        assert len(reads) == 1
        clock.advance(seconds=options.secret_ttl.total_seconds() + 1)
        await credential.get_token(GRAPH_SCOPE)
    assert len([r for r in tenant.vault_requests if r == ("GET", SECRET_NAME)]) == 2


async def test_a_vault_outage_keeps_the_cached_secret(options: ProviderOptions, tenant: FakeTenant,
                                                      graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    tenant.put_secret(SECRET_NAME, await _password(graph_twin, clock))
    async with build_credential(make_server(), options) as credential:
        await credential.get_token(GRAPH_SCOPE)
        clock.advance(seconds=options.secret_ttl.total_seconds() + 1)
        tenant.vault_faults[("GET", SECRET_NAME)] = 403  # e.g. a role assignment removed by mistake
        token = await credential.get_token(OTHER_SCOPE)
        assert jwt_claims(token.token)["appid"] == APP_ID
        await credential.get_token(OTHER_SCOPE)  # no second vault read within the retry minute
        assert len([r for r in tenant.vault_requests if r == ("GET", SECRET_NAME)]) == 2
        clock.advance(minutes=2)
        await credential.get_token(GRAPH_SCOPE)
    assert len([r for r in tenant.vault_requests if r == ("GET", SECRET_NAME)]) == 3


async def test_expired_secret_is_refreshed_from_the_vault(options: ProviderOptions, tenant: FakeTenant,
                                                        graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    tenant.put_secret(SECRET_NAME, await _password(graph_twin, clock, days=1))
    async with build_credential(make_server(), options) as credential:
        await credential.get_token(GRAPH_SCOPE)
        clock.advance(days=2)  # the old secret lapsed; an admin stored a new one meanwhile
        tenant.put_secret(SECRET_NAME, await _password(graph_twin, clock))
        token = await credential.get_token(OTHER_SCOPE)  # within the TTL: only the 401 triggers a read
    assert jwt_claims(token.token)["appid"] == APP_ID
    assert len([r for r in tenant.vault_requests if r == ("GET", SECRET_NAME)]) == 2


async def test_expired_secret_without_a_new_one_fails_with_the_aadsts_code(
        options: ProviderOptions, tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    tenant.put_secret(SECRET_NAME, await _password(graph_twin, clock, days=1))
    clock.advance(days=2)
    async with build_credential(make_server(), options) as credential:
        with pytest.raises(AuthenticationFailed) as caught:
            await credential.get_token(GRAPH_SCOPE)
    assert caught.value.code == "AADSTS7000222"


async def test_wrong_secret_is_rejected(options: ProviderOptions, tenant: FakeTenant,
                                        graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    await _password(graph_twin, clock)
    tenant.put_secret(SECRET_NAME, "not-the-secret")
    async with build_credential(make_server(), options) as credential:
        with pytest.raises(AuthenticationFailed) as caught:
            await credential.get_token(GRAPH_SCOPE)
    assert caught.value.code == "AADSTS7000215"


async def test_missing_vault_secret_is_not_found(options: ProviderOptions) -> None:
    async with build_credential(make_server(), options) as credential:
        with pytest.raises(NotFound):
            await credential.get_token(GRAPH_SCOPE)


async def test_vault_access_denied_is_an_authentication_failure(options: ProviderOptions,
                                                                tenant: FakeTenant) -> None:
    tenant.put_secret(SECRET_NAME, "x")
    tenant.vault_faults[("GET", SECRET_NAME)] = 403
    async with build_credential(make_server(), options) as credential:
        with pytest.raises(AuthenticationFailed):
            await credential.get_token(GRAPH_SCOPE)


async def test_environment_secret(options: ProviderOptions, graph_twin: InMemoryGraphAdmin,
                                  clock: Clock) -> None:
    secret = await _password(graph_twin, clock)
    opts = ProviderOptions(**{**options.__dict__, "environ": {"MY_SECRET": secret}})
    server = make_server(EnvironmentCredential(secret_setting="MY_SECRET"))
    async with build_credential(server, opts) as credential:
        assert jwt_claims((await credential.get_token(GRAPH_SCOPE)).token)["appid"] == APP_ID


async def test_environment_secret_missing_names_the_setting(options: ProviderOptions) -> None:
    server = make_server(EnvironmentCredential(secret_setting="MY_SECRET"))
    async with build_credential(server, options) as credential:
        with pytest.raises(ValidationFailed) as caught:
            await credential.get_token(GRAPH_SCOPE)
    assert "MY_SECRET" in caught.value.errors["credential.secret_setting"]


@pytest.mark.parametrize("stored_as", ["pkcs12", "pem"])
async def test_certificate_from_key_vault(options: ProviderOptions, tenant: FakeTenant, stored_as: str) -> None:
    cert, pem, pfx = make_certificate()
    tenant.certificates[APP_ID] = cert
    if stored_as == "pkcs12":
        tenant.put_secret("exsync-cert", b64(pfx), content_type="application/x-pkcs12")
    else:
        tenant.put_secret("exsync-cert", pem.decode(), content_type="application/x-pem-file")
    server = make_server(CertificateCredential(vault_url=VAULT_URL, certificate_name="exsync-cert"))
    async with build_credential(server, options) as credential:
        assert jwt_claims((await credential.get_token(GRAPH_SCOPE)).token)["appid"] == APP_ID
    assert "client_assertion" in tenant.token_requests[-1]


async def test_certificate_from_pem_file(options: ProviderOptions, tenant: FakeTenant, tmp_path: Path) -> None:
    cert, pem, _ = make_certificate()
    tenant.certificates[APP_ID] = cert
    path = tmp_path / "exsync.pem"
    path.write_bytes(pem)
    async with build_credential(make_server(CertificateCredential(pem_path=str(path))), options) as credential:
        assert jwt_claims((await credential.get_token(GRAPH_SCOPE)).token)["appid"] == APP_ID


async def test_unregistered_certificate_is_rejected(options: ProviderOptions, tenant: FakeTenant,
                                                    tmp_path: Path) -> None:
    tenant.certificates[APP_ID] = make_certificate()[0]
    path = tmp_path / "other.pem"
    path.write_bytes(make_certificate(serial=1)[1])
    async with build_credential(make_server(CertificateCredential(pem_path=str(path))), options) as credential:
        with pytest.raises(AuthenticationFailed) as caught:
            await credential.get_token(GRAPH_SCOPE)
    assert caught.value.code == "AADSTS700027"


async def test_missing_pem_file_names_the_field(options: ProviderOptions, tmp_path: Path) -> None:
    server = make_server(CertificateCredential(pem_path=str(tmp_path / "absent.pem")))
    async with build_credential(server, options) as credential:
        with pytest.raises(ValidationFailed) as caught:
            await credential.get_token(GRAPH_SCOPE)
    assert "credential.pem_path" in caught.value.errors


async def test_federated_identity_needs_no_secret(options: ProviderOptions, tenant: FakeTenant) -> None:
    tenant.federated[APP_ID] = "mi-client-id"
    server = make_server(FederatedIdentityCredential(managed_identity_client_id="mi-client-id"))
    async with build_credential(server, options) as credential:
        assert jwt_claims((await credential.get_token(GRAPH_SCOPE)).token)["appid"] == APP_ID
    request = tenant.token_requests[-1]
    assert jwt_claims(request["client_assertion"])["aud"] == "api://AzureADTokenExchange"
    assert "client_secret" not in request


async def test_federated_identity_of_another_identity_is_rejected(options: ProviderOptions,
                                                                  tenant: FakeTenant) -> None:
    tenant.federated[APP_ID] = "mi-client-id"
    server = make_server(FederatedIdentityCredential(managed_identity_client_id="someone-else"))
    async with build_credential(server, options) as credential:
        with pytest.raises(AuthenticationFailed):
            await credential.get_token(GRAPH_SCOPE)


def test_client_id_is_required(options: ProviderOptions) -> None:
    server = make_server(KeyVaultSecretCredential(vault_url=VAULT_URL, secret_name=SECRET_NAME)).model_copy(
        update={"client_id": ""})
    with pytest.raises(ValidationFailed) as caught:
        build_credential(server, options)
    assert "client_id" in caught.value.errors


async def test_an_external_credential_bypasses_the_reference(options: ProviderOptions, tenant: FakeTenant) -> None:
    from tests.credentials.fakes import StaticCredential

    opts = ProviderOptions(**{**options.__dict__, "credential_for": lambda server: StaticCredential("sim-token")})
    async with build_credential(make_server(), opts) as credential:
        assert (await credential.get_token(GRAPH_SCOPE)).token == "sim-token"
    assert tenant.token_requests == [] and tenant.vault_requests == []
