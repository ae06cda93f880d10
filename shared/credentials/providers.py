"""Credential providers: a server's credential reference -> one async azure-core token credential.

``build_credential(server, options)`` returns an :class:`ExsyncCredential` (an azure-core
``AsyncTokenCredential``, which msgraph-sdk's auth provider takes) for one of:

- ``key_vault_secret``: the client secret read from Key Vault, cached for ``secret_ttl`` and
  re-read at once when Entra ID rejects it (AADSTS7000222 expired, 7000215 invalid), so a
  rotated secret is picked up without a restart;
- ``certificate``: a certificate from Key Vault (its backing secret, PKCS#12 or PEM) or a PEM file;
- ``federated_identity``: no secret at all; a user-assigned managed identity's token for
  ``api://AzureADTokenExchange`` is the client assertion (``ClientAssertionCredential``);
- ``environment``: the secret from an environment variable, for local runs.

The authority host and the HTTP transport are injectable (:class:`ProviderOptions`) so tests and
local runs never reach login.microsoftonline.com.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import dataclasses
import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.credentials.vault import SecretVault, VaultFactory
from shared.domain.config import (
    CertificateCredential,
    EnvironmentCredential,
    FederatedIdentityCredential,
    KeyVaultSecretCredential,
    ServerConfig,
)
from shared.errors import AuthenticationFailed, ConfigurationError, ExsyncError, ValidationFailed

logger = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"
# Entra ID errors that mean "the credential material is stale": re-read it and retry once.
REFRESH_CODES = frozenset({"AADSTS7000222", "AADSTS7000215", "AADSTS700027", "AADSTS700024"})
_AADSTS = re.compile(r"AADSTS\d+")
RELOAD_RETRY = timedelta(minutes=1)  # after a failed TTL re-read, the next attempt


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass(frozen=True)
class ProviderOptions:
    """What providers need from the outside world; every field has a production default.

    - ``vaults``: builds a :class:`SecretVault` for a vault URL (required for Key Vault kinds).
    - ``authority``: Entra ID authority host (https), e.g. a sovereign cloud or a test host.
    - ``transport_factory``: a fresh azure-core ``AsyncHttpTransport`` per token client (tests).
    - ``assertion_credential``: builds the managed identity credential for a client id
      (default ``azure.identity.aio.ManagedIdentityCredential``).
    - ``credential_for``: bypasses the credential reference entirely (the local host against the
      Graph simulator passes e.g. ``shared.graph.auth.StaticTokenCredential``).
    """

    vaults: VaultFactory | None = None
    authority: str | None = None
    transport_factory: Callable[[], Any] | None = None
    assertion_credential: Callable[[str], Any] | None = None
    environ: Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)
    credential_for: Callable[[ServerConfig], Any] | None = None  # local host / simulator: any token
    secret_ttl: timedelta = timedelta(hours=1)
    clock: Callable[[], datetime] = utcnow

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.authority:
            kwargs["authority"] = self.authority
        if self.transport_factory is not None:
            kwargs["transport"] = self.transport_factory()
        return kwargs

    def vault(self, vault_url: str) -> SecretVault:
        if self.vaults is None:
            raise ConfigurationError("no Key Vault client factory configured (ProviderOptions.vaults)")
        return self.vaults(vault_url)


def aadsts_code(exc: BaseException) -> str | None:
    """The AADSTS error code in an Entra ID error message, if any."""
    match = _AADSTS.search(str(exc))
    return match.group(0) if match else None


def auth_failed(exc: BaseException, what: str) -> AuthenticationFailed:
    """An azure-identity error as AuthenticationFailed with the AADSTS code (no secrets in it)."""
    code = aadsts_code(exc)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return AuthenticationFailed(f"{what}: {first_line[:300]}", status=getattr(exc, "status_code", None),
                                code=code)


@dataclasses.dataclass(frozen=True)
class Material:
    """Loaded credential material; ``version`` changes when the material does."""

    version: str
    data: bytes = dataclasses.field(repr=False)
    expires_on: datetime | None = None


class ExsyncCredential(abc.ABC):
    """An azure-core ``AsyncTokenCredential`` with ``invalidate()`` for callers that got a 401."""

    kind: str = ""

    @abc.abstractmethod
    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> Any:
        """An ``azure.core.credentials.AccessToken`` for ``scopes``."""

    def invalidate(self) -> None:
        """Forget cached material so the next token request re-reads it (no-op by default)."""
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> ExsyncCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()


Loader = Callable[[], Any]  # async () -> Material
InnerFactory = Callable[[Material], Any]  # Material -> azure.identity.aio credential


class RefreshingCredential(ExsyncCredential):
    """Token credential over material that is re-read after ``ttl`` or when Entra ID rejects it."""

    def __init__(self, kind: str, loader: Loader, make_inner: InnerFactory, *, ttl: timedelta,
                 clock: Callable[[], datetime], what: str) -> None:
        self.kind = kind
        self._loader = loader
        self._make_inner = make_inner
        self._ttl = ttl
        self._clock = clock
        self._what = what
        self._lock = asyncio.Lock()
        self._material: Material | None = None
        self._loaded_at: datetime | None = None
        self._inner: Any = None
        self.reloads = 0

    def invalidate(self) -> None:
        self._loaded_at = None

    async def _ensure(self, *, force: bool = False) -> bool:
        """Load material when missing, stale or forced; True if the material changed."""
        async with self._lock:
            fresh = self._loaded_at is not None and self._clock() - self._loaded_at < self._ttl
            if self._inner is not None and fresh and not force:
                return False
            try:
                material = await self._loader()
            except ExsyncError as exc:
                if self._inner is None or force:
                    raise
                # the cached material still works: keep it through a vault outage, retry in a minute
                logger.warning("%s: re-reading the credential failed (%s); keeping the cached one",
                               self._what, exc.__class__.__name__)
                self._loaded_at = self._clock() - self._ttl + RELOAD_RETRY
                return False
            self._loaded_at = self._clock()
            self.reloads += 1
            if self._material is not None and material.version == self._material.version \
                    and self._inner is not None:
                return False
            old, self._inner, self._material = self._inner, self._make_inner(material), material
            logger.info("%s: loaded credential version %s", self._what, material.version)
            if old is not None:
                await old.close()
            return True

    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        await self._ensure()
        try:
            return await self._inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)
        except ClientAuthenticationError as exc:
            code = aadsts_code(exc)
            if code not in REFRESH_CODES:
                raise auth_failed(exc, self._what) from exc
            logger.warning("%s: Entra ID rejected the credential (%s); re-reading it", self._what, code)
            first = exc
        if not await self._ensure(force=True):
            raise auth_failed(first, self._what) from first
        try:
            return await self._inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)
        except ClientAuthenticationError as exc:
            raise auth_failed(exc, self._what) from exc

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
            self._inner = None


class FederatedCredential(ExsyncCredential):
    """Secretless: the managed identity's exchange token is the app's client assertion."""

    kind = "federated_identity"

    def __init__(self, server: ServerConfig, ref: FederatedIdentityCredential,
                 options: ProviderOptions) -> None:
        from azure.identity.aio import ClientAssertionCredential

        self._what = f"server {server.name}: federated identity token"
        if options.assertion_credential is not None:
            self._identity = options.assertion_credential(ref.managed_identity_client_id)
        else:
            from azure.identity.aio import ManagedIdentityCredential

            self._identity = ManagedIdentityCredential(client_id=ref.managed_identity_client_id)
        self._assertion = ""
        self._inner = ClientAssertionCredential(server.tenant_id, server.client_id,
                                                lambda: self._assertion, **options.client_kwargs())

    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> Any:
        from azure.core.exceptions import AzureError, ClientAuthenticationError

        try:
            self._assertion = (await self._identity.get_token(TOKEN_EXCHANGE_SCOPE)).token
        except AzureError as exc:
            raise auth_failed(exc, f"{self._what} (managed identity)") from exc
        try:
            return await self._inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)
        except ClientAuthenticationError as exc:
            raise auth_failed(exc, self._what) from exc

    async def close(self) -> None:
        await self._inner.close()
        await self._identity.close()


def secret_credential(server: ServerConfig, secret: str, options: ProviderOptions) -> Any:
    """A plain azure-identity client-secret credential (rotation proves a new secret with it)."""
    from azure.identity.aio import ClientSecretCredential

    return ClientSecretCredential(server.tenant_id, server.client_id, secret, **options.client_kwargs())


def _certificate_credential(server: ServerConfig, material: Material, options: ProviderOptions) -> Any:
    from azure.identity.aio import CertificateCredential as AzureCertificateCredential

    return AzureCertificateCredential(server.tenant_id, server.client_id, certificate_data=material.data,
                                      **options.client_kwargs())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _vault_secret_loader(vault: SecretVault, name: str) -> Loader:
    async def load() -> Material:
        secret = await vault.get_secret(name)
        return Material(secret.version, secret.value.encode(), secret.expires_on)
    return load


def _vault_certificate_loader(vault: SecretVault, name: str) -> Loader:
    async def load() -> Material:
        secret = await vault.get_secret(name)
        if secret.content_type == "application/x-pkcs12" or "-----BEGIN" not in secret.value:
            try:
                data = base64.b64decode(secret.value, validate=True)
            except ValueError as exc:
                raise ConfigurationError(
                    f"certificate {name!r}: the vault secret is neither PEM nor base64 PKCS#12; "
                    "import it with `az keyvault certificate import`") from exc
        else:
            data = secret.value.encode()
        return Material(secret.version, data, secret.expires_on)
    return load


def _pem_loader(path: str) -> Loader:
    async def load() -> Material:
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
        except OSError as exc:
            raise ValidationFailed({"credential.pem_path": f"cannot read {path!r} ({exc.strerror}); "
                                    "give the path of a PEM file holding the key and certificate"}) from exc
        return Material(_digest(data), data, None)
    return load


def _environment_loader(setting: str, environ: Mapping[str, str]) -> Loader:
    async def load() -> Material:
        value = environ.get(setting, "")
        if not value:
            raise ValidationFailed({"credential.secret_setting": f"the app setting {setting} is empty; "
                                    "set it to the client secret (local runs only)"})
        return Material(_digest(value.encode()), value.encode(), None)
    return load


class WrappedCredential(ExsyncCredential):
    """An externally supplied async token credential, as an :class:`ExsyncCredential`."""

    kind = "external"

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                        enable_cae: bool = False, **kwargs: Any) -> Any:
        return await self._inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)

    async def close(self) -> None:
        await self._inner.close()


def build_credential(server: ServerConfig, options: ProviderOptions) -> ExsyncCredential:
    """The token credential for ``server``'s credential reference."""
    if options.credential_for is not None:
        return WrappedCredential(options.credential_for(server))
    if not server.client_id:
        raise ValidationFailed({"client_id": "empty; set the app registration's application (client) id"})
    ref = server.credential
    what = f"server {server.name}: token for app {server.client_id}"
    common: dict[str, Any] = {"ttl": options.secret_ttl, "clock": options.clock, "what": what}

    def from_secret(material: Material) -> Any:
        return secret_credential(server, material.data.decode(), options)

    def from_certificate(material: Material) -> Any:
        return _certificate_credential(server, material, options)

    if isinstance(ref, KeyVaultSecretCredential):
        loader = _vault_secret_loader(options.vault(ref.vault_url), ref.secret_name)
        return RefreshingCredential(ref.kind.value, loader, from_secret, **common)
    if isinstance(ref, EnvironmentCredential):
        loader = _environment_loader(ref.secret_setting, options.environ)
        return RefreshingCredential(ref.kind.value, loader, from_secret, **common)
    if isinstance(ref, CertificateCredential):
        if ref.pem_path:
            loader = _pem_loader(ref.pem_path)
        else:
            assert ref.vault_url and ref.certificate_name  # guaranteed by the model validator
            loader = _vault_certificate_loader(options.vault(ref.vault_url), ref.certificate_name)
        return RefreshingCredential(ref.kind.value, loader, from_certificate, **common)
    return FederatedCredential(server, ref, options)
