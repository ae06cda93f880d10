"""Table store failures against Azurite become shared.errors with a fix in the message."""

from __future__ import annotations

import uuid

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.domain.config import SyncPolicy
from shared.errors import ConfigurationError, RemoteError
from shared.state.table import TableStateStore

AZURITE_DOWN = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
                "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;")


async def test_missing_tables_name_the_fix(azurite_connection_string: str) -> None:
    store = TableStateStore.from_connection_string(azurite_connection_string,
                                                   table_prefix="nt" + uuid.uuid4().hex[:10])
    try:
        with pytest.raises(ConfigurationError, match="create_tables"):
            await store.get_policy("p")
        with pytest.raises(ConfigurationError, match="create_tables"):
            await store.put_policy(SyncPolicy(name="p"))
        with pytest.raises(ConfigurationError, match="create_tables"):
            await store.put_policy(SyncPolicy(name="p"), force=True)
    finally:
        await store.aclose()


async def test_create_tables_is_idempotent(azurite_connection_string: str) -> None:
    store = TableStateStore.from_connection_string(azurite_connection_string,
                                                   table_prefix="it" + uuid.uuid4().hex[:10])
    try:
        await store.create_tables()
        await store.put_policy(SyncPolicy(name="p"))
        await store.create_tables()
        assert await store.get_policy("p") is not None
        await store.delete_tables()
    finally:
        await store.aclose()


async def test_unreachable_service_is_a_remote_error() -> None:
    service = TableServiceClient.from_connection_string(AZURITE_DOWN, retry_total=0)
    store = TableStateStore(service, table_prefix="down")
    try:
        with pytest.raises(RemoteError, match="unreachable"):
            await store.get_policy("p")
    finally:
        await store.aclose()
