"""The Table store on Azurite: the configuration in one request, and the upgrade from the three
configuration tables of an earlier version (rows written there by a raw TableClient)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from azure.data.tables.aio import TableServiceClient

from bench.stack import metered_store
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.ports import ConfigSnapshot
from shared.state import codec, keys
from shared.state import rows as tr
from shared.state.config_upgrade import LEGACY_TABLES
from shared.state.table import TABLES, TableStateStore

HOSTILE = "o'neil+x#y/z?w\\v@exämple.com"


@pytest.fixture
async def prefix(azurite_connection_string: str) -> AsyncIterator[str]:
    name = "cu" + uuid.uuid4().hex[:10]
    yield name
    async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
        for table in (*TABLES, *LEGACY_TABLES):
            await service.delete_table(name + table)


async def _write_old_version(conn: str, prefix: str) -> None:
    """Rows as the version before the config table wrote them: one table per kind."""
    rows = {
        "policies": [tr.with_text(tr.row("policy", keys.key(n), name=n), codec.encode_policy(SyncPolicy(name=n)))
                     for n in ("sales", "default")],
        "servers": [tr.with_text(tr.row("server", keys.key(s.name), name=s.name), codec.encode_server(s))
                    for s in (ServerConfig(name="east", default_policy="sales", client_id="old"),
                              ServerConfig(name="west"))],
        "mailboxes": [tr.with_text(tr.row("mailbox", keys.key(m.email), server=m.server), codec.encode_mailbox(m))
                      for m in (Mailbox(email="ann@contoso.com", server="east", employee_id="E1"),
                                Mailbox(email=HOSTILE, server="west", employee_id="E2"),
                                Mailbox(email="bob@contoso.com", server="east", employee_id="E3"))],
    }
    async with TableServiceClient.from_connection_string(conn) as service:
        for table, entities in rows.items():
            client = await service.create_table(prefix + table)
            for entity in entities:
                await client.create_entity(entity)


async def test_rows_of_the_old_tables_appear_through_the_store_once(
        azurite_connection_string: str, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    await _write_old_version(azurite_connection_string, prefix)
    async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
        await service.create_table(prefix + "config")
    store = TableStateStore.from_connection_string(azurite_connection_string, table_prefix=prefix)
    try:
        newer = await store.put_server(ServerConfig(name="east", default_policy="sales", client_id="new"))
        with caplog.at_level(logging.INFO, logger="shared.state.config_upgrade"):
            await store.create_tables()
        assert "copied 2 policies, 1 servers, 3 mailboxes" in caplog.text
        east = await store.get_server("east")
        assert east is not None and (east.value.client_id, east.etag) == ("new", newer)   # config's row wins
        assert [m.value.email for m in await store.list_mailboxes("west")] == [HOSTILE.lower()]
        context = await store.get_mailbox_context(HOSTILE)
        assert context.mailbox is not None and context.server is not None and context.policy is not None
        assert context.policy.value.name == "default"
        assert len((await store.list_config()).policies) == 2   # the upgrade's own marker row is not config
        await store.delete_mailbox("bob@contoso.com")
    finally:
        await store.aclose()

    again, meter = metered_store(azurite_connection_string, prefix)   # the next start
    try:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="shared.state.config_upgrade"):
            await again.create_tables()
        assert caplog.text == ""
        assert meter.counts["GET config"] == 1   # the marker only
        assert not [kind for kind in meter.counts if kind.split()[1] in (*LEGACY_TABLES, "config")
                    and not kind.startswith("GET")]
        assert await again.get_mailbox("bob@contoso.com") is None   # a deleted row is not brought back
        async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
            old = [e async for e in service.get_table_client(prefix + "mailboxes").list_entities()]
        assert len(old) == 3   # the old tables are left for an admin to delete
    finally:
        await again.aclose()


async def test_a_store_without_old_tables_starts_empty(azurite_connection_string: str, prefix: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    store = TableStateStore.from_connection_string(azurite_connection_string, table_prefix=prefix)
    try:
        with caplog.at_level(logging.INFO, logger="shared.state.config_upgrade"):
            await store.create_tables()
        assert "no rows of an earlier version" in caplog.text
        assert await store.list_config() == ConfigSnapshot()
    finally:
        await store.aclose()


async def test_the_configuration_is_one_request(azurite_connection_string: str, prefix: str) -> None:
    store, meter = metered_store(azurite_connection_string, prefix)
    try:
        await store.create_tables()
        await store.put_policy(SyncPolicy(name="sales"))
        for name in ("east", "west"):
            await store.put_server(ServerConfig(name=name, default_policy="sales"))
        for n in range(5):
            await store.put_mailbox(Mailbox(email=f"user{n}@contoso.com", server="east", employee_id=f"E{n}"))
        meter.counts.clear()
        context = await store.get_mailbox_context("user3@contoso.com")
        assert context.mailbox is not None and context.mailbox.value.employee_id == "E3"
        assert context.policy is not None and context.policy.value.name == "sales"
        assert dict(meter.counts) == {"GET config": 1}
        config = await store.list_config()
        assert (len(config.policies), len(config.servers), len(config.mailboxes)) == (1, 2, 5)
        assert dict(meter.counts) == {"GET config": 2}
    finally:
        await store.aclose()
