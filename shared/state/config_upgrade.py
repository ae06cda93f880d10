"""Upgrade of a deployed Table store: the configuration tables of earlier versions, adopted once.

Earlier versions kept policies, servers and mailboxes in three tables (:data:`LEGACY_TABLES`,
partitions ``policy`` / ``server`` / ``mailbox``); they now share the ``config`` table with the
same partitions, row keys and properties. :func:`adopt_legacy_config` copies every old row that
``config`` does not hold yet (create-only: a row already in ``config`` is newer and wins), then
writes a marker row, so later starts read one row and copy nothing; a row deleted after the
upgrade is not brought back. The old tables are left in place for an admin to delete after
checking (docs/deploy.md, "Upgrade"). A deployment that never had them copies nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.state import rows as tr

log = logging.getLogger(__name__)

LEGACY_TABLES = ("policies", "servers", "mailboxes")
"""Configuration tables of versions before the ``config`` table (still declared in infra/ for one version)."""
MARKER_PARTITION, MARKER_ROW = "~upgrade", "config-tables"
"""The row of ``config`` saying the old tables were adopted ("~" never starts an escaped key)."""


async def adopt_legacy_config(service: TableServiceClient, config: TableClient, prefix: str) -> dict[str, int]:
    """Copy the old tables' rows missing from ``config``, once; the rows copied per old table."""
    with tr.mapped("the configuration upgrade marker"):
        try:
            await config.get_entity(MARKER_PARTITION, MARKER_ROW)
            return {}
        except ResourceNotFoundError as exc:
            if tr.missing_table(exc, False):
                raise
    held = await _keys_of(config)
    copied = {name: await _copy(service.get_table_client(prefix + name), config, held) for name in LEGACY_TABLES}
    with tr.mapped("the configuration upgrade marker"):
        await config.upsert_entity(tr.row(MARKER_PARTITION, MARKER_ROW, **copied), mode=UpdateMode.REPLACE)
    if any(copied.values()):
        log.info("configuration upgrade: copied %s rows from the tables of an earlier version into %sconfig "
                 "(rows already there kept); the old tables can be deleted after checking",
                 ", ".join(f"{count} {name}" for name, count in copied.items()), prefix)
    else:
        log.info("configuration upgrade: no rows of an earlier version to copy into %sconfig", prefix)
    return copied


async def _keys_of(config: TableClient) -> set[tuple[str, str]]:
    with tr.mapped("the configuration table"):
        return {(str(e["PartitionKey"]), str(e["RowKey"]))
                async for e in config.list_entities(select=["PartitionKey", "RowKey"])}


async def _copy(old: TableClient, config: TableClient, held: set[tuple[str, str]]) -> int:
    """Create the rows of ``old`` that ``config`` lacks; 0 when ``old`` does not exist."""
    copied = 0
    async with old:
        with tr.mapped(f"table {old.table_name}"):
            try:
                async for entity in old.list_entities():
                    copied += await _create(config, dict(entity), held)
            except ResourceNotFoundError as exc:
                if not tr.missing_table(exc, False):
                    raise
    return copied


async def _create(config: TableClient, entity: dict[str, Any], held: set[tuple[str, str]]) -> int:
    """1 when ``entity`` was created in ``config``, 0 when a row with its key is there already."""
    if (str(entity["PartitionKey"]), str(entity["RowKey"])) in held:
        return 0
    with tr.mapped("configuration row"):
        try:
            await config.create_entity(entity)
        except ResourceExistsError:  # written meanwhile by the application or another host: it wins
            return 0
    return 1
