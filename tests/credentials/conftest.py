"""Fixtures of the credential tests: the fake tenant server, provider options, servers, certificates."""

from __future__ import annotations

import base64
import dataclasses
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from devhost.services import Simulator, start_simulator
from shared.credentials.graph_admin import InMemoryGraphAdmin
from shared.credentials.providers import ProviderOptions
from shared.credentials.vault import KeyVaultSecrets
from shared.domain.config import KeyVaultSecretCredential, ServerConfig
from tests.credentials.fakes import AUTHORITY, MI_HEADER, VAULT_URL, FakeTenant, RoutingTransport, StaticCredential

APP_ID = "11111111-2222-3333-4444-555555555555"
ADMIN = "admin@contoso.test"
ANN = "ann@contoso.test"
SECRET_NAME = "exsync-client-secret"


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime | None = None) -> None:
        self.value = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def graph_twin(clock: Clock) -> InMemoryGraphAdmin:
    return InMemoryGraphAdmin(clock)


@pytest.fixture
def tenant(graph_twin: InMemoryGraphAdmin) -> FakeTenant:
    return FakeTenant(check_secret=graph_twin.check_secret)


@pytest.fixture
async def tenant_url(tenant: FakeTenant) -> AsyncIterator[str]:
    server = TestServer(tenant.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
def transport_factory(tenant_url: str) -> Callable[[], RoutingTransport]:
    return lambda: RoutingTransport(tenant_url)


@pytest.fixture
async def vaults(transport_factory: Callable[[], RoutingTransport]) -> AsyncIterator[Callable[[str], Any]]:
    made: dict[str, KeyVaultSecrets] = {}

    def factory(url: str) -> KeyVaultSecrets:
        if url not in made:
            made[url] = KeyVaultSecrets(url, StaticCredential(), transport=transport_factory())
        return made[url]

    yield factory
    for client in made.values():
        await client.close()


@pytest.fixture
def options(vaults: Callable[[str], Any], transport_factory: Callable[[], RoutingTransport], clock: Clock,
            tenant_url: str, monkeypatch: pytest.MonkeyPatch) -> ProviderOptions:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{tenant_url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", MI_HEADER)

    def identity(client_id: str) -> Any:
        from azure.identity.aio import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id, transport=transport_factory())

    return ProviderOptions(vaults=vaults, authority=AUTHORITY, transport_factory=transport_factory,
                           assertion_credential=identity, environ={}, clock=clock)


def make_server(credential: Any = None, **fields: Any) -> ServerConfig:
    cred = credential or KeyVaultSecretCredential(vault_url=VAULT_URL, secret_name=SECRET_NAME)
    base: dict[str, Any] = {"name": "contoso", "tenant_id": "tenant", "client_id": APP_ID}
    return ServerConfig(credential=cred, **{**base, **fields})


@pytest.fixture
def server() -> ServerConfig:
    return make_server()


@functools.cache
def make_certificate(days: int = 365, serial: int = 0) -> tuple[x509.Certificate, bytes, bytes]:
    """A self-signed certificate, as (cert, PEM key+cert, PKCS#12 bytes); cached (RSA keys are slow)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exsync-test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)
    pfx = pkcs12.serialize_key_and_certificates(b"exsync", key, cert, None, serialization.NoEncryption())
    return cert, pem, pfx


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="session")
def graph_sim() -> Iterator[Simulator]:
    """The Graph simulator (one per session; tests reset mailboxes and use fresh application ids)."""
    sim = start_simulator("sim.graph", ["--users", f"{ADMIN},{ANN}"])
    try:
        yield sim
    finally:
        sim.stop()


@dataclasses.dataclass(frozen=True)
class SimApp:
    app_id: str
    object_id: str
    key_id: str
    secret: str = dataclasses.field(repr=False)


async def add_sim_app(sim: Simulator, end: datetime) -> SimApp:
    """A new application in the simulator with one password ending at ``end``."""
    import httpx

    body = {"displayName": "exsync", "appId": str(uuid.uuid4()),
            "passwordCredentials": [{"displayName": "exsync", "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ")}]}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{sim.base_url}/_sim/applications", json=body)
    assert response.status_code == 201, response.text
    app = response.json()
    cred = app["passwordCredentials"][0]
    return SimApp(app["appId"], app["id"], cred["keyId"], cred["secretText"])


async def add_sim_fault(sim: Simulator, path: str, status: int, method: str = "POST") -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.post(f"{sim.base_url}/_sim/faults",
                                     json={"path": path, "method": method, "status": status})
    assert response.status_code == 201, response.text
