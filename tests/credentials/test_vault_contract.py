"""One contract for KeyVaultSecrets (the SDK against the fake vault, through its transport) and its twin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.credentials.vault import InMemorySecretVault, SecretVault
from shared.errors import NotFound
from tests.credentials.fakes import VAULT_URL


@pytest.fixture(params=["twin", "key_vault"])
def vault(request: pytest.FixtureRequest, vaults: Callable[[str], Any]) -> SecretVault:
    return InMemorySecretVault() if request.param == "twin" else vaults(VAULT_URL)


async def test_missing_secret_is_not_found(vault: SecretVault) -> None:
    with pytest.raises(NotFound):
        await vault.get_secret("absent")


async def test_set_then_get(vault: SecretVault) -> None:
    end = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
    stored = await vault.set_secret("client-secret", "v4lue", expires_on=end, content_type="text/plain",
                                    tags={"exsync-key-id": "k1"})
    read = await vault.get_secret("client-secret")
    assert (read.value, read.version, read.expires_on, read.content_type, read.tags) == (
        "v4lue", stored.version, end, "text/plain", {"exsync-key-id": "k1"})
    assert "v4lue" not in repr(read)


async def test_versions(vault: SecretVault) -> None:
    first = await vault.set_secret("client-secret", "one")
    second = await vault.set_secret("client-secret", "two")
    assert first.version != second.version
    assert (await vault.get_secret("client-secret")).value == "two"
    assert (await vault.get_secret("client-secret", first.version)).value == "one"
    assert (await vault.get_secret("client-secret")).expires_on is None
