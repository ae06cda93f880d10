"""The twin's fault hook and input checks that need no Table service."""

from __future__ import annotations

import pytest

from shared.domain.config import SyncPolicy
from shared.errors import RemoteError, ValidationFailed
from shared.state.memory import InMemoryStateStore
from shared.state.table import TableStateStore

AZURITE_LIKE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
                "TableEndpoint=http://127.0.0.1:1/devstoreaccount1;")


async def test_fail_next_raises_once_then_works() -> None:
    store = InMemoryStateStore()
    store.fail_next("put_policy", RemoteError("disk on fire"))
    store.fail_next("put_policy", RemoteError("again"))
    with pytest.raises(RemoteError, match="disk on fire"):
        await store.put_policy(SyncPolicy(name="p"))
    with pytest.raises(RemoteError, match="again"):
        await store.put_policy(SyncPolicy(name="p"))
    assert await store.get_policy("p") is None  # the fault struck before any change
    await store.put_policy(SyncPolicy(name="p"))
    assert await store.get_policy("p") is not None


async def test_clear_faults_and_unknown_methods() -> None:
    store = InMemoryStateStore()
    store.fail_next("get_doc", RemoteError("x"))
    store.clear_faults()
    assert await store.get_doc("k", "v") is None
    with pytest.raises(ValueError, match="method_name"):
        store.fail_next("no_such_method", RemoteError("x"))
    with pytest.raises(ValueError, match="method_name"):
        store.fail_next("_link_rows", RemoteError("x"))


def test_retention_and_prefix_are_validated() -> None:
    with pytest.raises(ValidationFailed) as caught:
        InMemoryStateStore(retention_days=0)
    assert "retention_days" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        TableStateStore.from_connection_string(AZURITE_LIKE, table_prefix="bad-prefix")
    assert "table_prefix" in caught.value.errors
    with pytest.raises(ValidationFailed):
        TableStateStore.from_connection_string(AZURITE_LIKE, retention_days=-1)
