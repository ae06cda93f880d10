"""Secrets in Azure Key Vault: the port, the Key Vault adapter and its in-memory twin.

Credential providers read the client secret (or a certificate's secret) from here, the expiry
check reads ``expires_on`` and rotation writes new versions. The adapter wraps the async
``azure.keyvault.secrets.aio.SecretClient``; its ``transport`` is injectable so tests reach a fake
vault through the SDK's own pipeline. Azure errors are translated into :mod:`shared.errors`.
Secret values never appear in ``repr`` or in log records.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.errors import AuthenticationFailed, NotFound, RemoteError

logger = logging.getLogger(__name__)

KEY_ID_TAG = "exsync-key-id"  # tag naming the app registration passwordCredential keyId


class VaultAccessDenied(AuthenticationFailed):
    """Key Vault refused the app's own identity (no token for the vault, or no role on it)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SecretVersion:
    """One version of a Key Vault secret. ``value`` is hidden from ``repr``."""

    name: str
    version: str
    value: str = dataclasses.field(repr=False)
    expires_on: datetime | None = None
    content_type: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    created_on: datetime | None = None


class SecretVault(Protocol):
    """The Key Vault operations exsync needs."""

    async def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        """The current (or the given) version; raises NotFound."""
        ...

    async def set_secret(self, name: str, value: str, *, expires_on: datetime | None = None,
                         content_type: str | None = None,
                         tags: dict[str, str] | None = None) -> SecretVersion:
        """Store ``value`` as the new current version of ``name``."""
        ...

    async def close(self) -> None: ...


class InMemorySecretVault:
    """The twin of :class:`KeyVaultSecrets` for unit tests and local runs."""

    def __init__(self) -> None:
        self._versions: dict[str, list[SecretVersion]] = {}
        self._ids = itertools.count(1)
        self.fail_next: dict[str, Exception] = {}  # operation name -> error raised once

    def _maybe_fail(self, operation: str) -> None:
        error = self.fail_next.pop(operation, None)
        if error is not None:
            raise error

    async def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        self._maybe_fail("get_secret")
        versions = self._versions.get(name, [])
        for item in reversed(versions):
            if version in (None, item.version):
                return item
        raise NotFound(f"secret {name!r} not found in the vault")

    async def set_secret(self, name: str, value: str, *, expires_on: datetime | None = None,
                         content_type: str | None = None,
                         tags: dict[str, str] | None = None) -> SecretVersion:
        self._maybe_fail("set_secret")
        item = SecretVersion(name, f"v{next(self._ids):04d}", value, expires_on, content_type,
                             dict(tags or {}))
        self._versions.setdefault(name, []).append(item)
        return item

    def versions(self, name: str) -> list[SecretVersion]:
        return list(self._versions.get(name, []))

    async def close(self) -> None:
        return None


def _from_sdk(secret: Any) -> SecretVersion:
    props = secret.properties
    return SecretVersion(
        name=str(secret.name), version=str(props.version or ""), value=str(secret.value or ""),
        expires_on=props.expires_on, content_type=props.content_type, tags=dict(props.tags or {}),
        created_on=props.created_on)


def translate_azure_error(exc: Exception, what: str) -> Exception:
    """An azure-core error as the exsync error for ``what`` (callers ``raise ... from exc``)."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    if isinstance(exc, ResourceNotFoundError):
        return NotFound(f"{what}: not found")
    if isinstance(exc, ClientAuthenticationError):
        return VaultAccessDenied(f"{what}: access denied ({exc.__class__.__name__})",
                                 status=getattr(exc, "status_code", None))
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        code = exc.error.code if exc.error is not None else None
        if status == 403:
            return VaultAccessDenied(f"{what}: forbidden ({code})", status=status, code=code)
        return RemoteError(f"{what}: HTTP {status} ({code})", status=status, code=code)
    return RemoteError(f"{what}: {exc.__class__.__name__}")


class KeyVaultSecrets:
    """:class:`SecretVault` on Azure Key Vault (``SecretClient``, async).

    ``credential`` authenticates to the vault (DefaultAzureCredential / managed identity in
    Azure); ``transport`` (azure-core ``AsyncHttpTransport``) is for tests.
    """

    def __init__(self, vault_url: str, credential: Any, *, transport: Any = None) -> None:
        from azure.keyvault.secrets.aio import SecretClient

        kwargs: dict[str, Any] = {"transport": transport} if transport is not None else {}
        self.vault_url = vault_url
        self._client = SecretClient(vault_url, credential, **kwargs)

    async def get_secret(self, name: str, version: str | None = None) -> SecretVersion:
        from azure.core.exceptions import AzureError

        try:
            secret = await self._client.get_secret(name, version)
        except AzureError as exc:
            raise translate_azure_error(exc, f"reading secret {name!r} from {self.vault_url}") from exc
        logger.debug("read secret %s version %s", name, secret.properties.version)
        return _from_sdk(secret)

    async def set_secret(self, name: str, value: str, *, expires_on: datetime | None = None,
                         content_type: str | None = None,
                         tags: dict[str, str] | None = None) -> SecretVersion:
        from azure.core.exceptions import AzureError

        try:
            secret = await self._client.set_secret(name, value, expires_on=expires_on,
                                                   content_type=content_type, tags=tags)
        except AzureError as exc:
            raise translate_azure_error(exc, f"writing secret {name!r} to {self.vault_url}") from exc
        logger.info("stored a new version of secret %s (expires %s)", name, expires_on)
        return _from_sdk(secret)

    async def close(self) -> None:
        await self._client.close()


VaultFactory = Callable[[str], SecretVault]
"""Builds the vault client for a vault URL (one per vault, shared by providers and checks)."""
