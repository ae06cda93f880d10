"""The Table Storage rows of the tenant ERP feed (mixed into :class:`shared.state.table.TableStateStore`).

Table ``routed``: partition ``<mailbox>:<type>``, row key the escaped ERP id, properties ``mailbox``,
``type``, ``erp_id``, ``version``; one upsert per change, ≤100 per transaction (one partition each). The
tenant watermarks live in the same table, partition ``~feed``, row key the record type. Deletes are
conditional on the row ETag the run listed, one transaction per partition; a transaction that
fails because a row was routed again meanwhile falls back to row-by-row deletes that skip it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode

from shared.domain.records import RecordType
from shared.errors import ConcurrencyConflict
from shared.ports import RoutedChange, Stored
from shared.state import batch, feed_rows, keys, rules
from shared.state import rows as tr

TABLE = "routed"
_IF_MATCH = MatchConditions.IfNotModified


def _partition(mailbox: str, record_type: RecordType) -> str:
    return keys.key(rules.mailbox_key(mailbox), record_type.value)


def _entity(change: RoutedChange) -> tr.Entity:
    return tr.row(_partition(change.mailbox, change.record_type), keys.key(change.erp_id),
                  mailbox=rules.mailbox_key(change.mailbox), type=change.record_type.value, erp_id=change.erp_id,
                  version=change.version)


class TableFeedRows:
    """Feed cursors and routed changes on the ``routed`` table."""

    _t: dict[str, Any]

    async def get_feed_cursor(self, record_type: RecordType) -> Stored[str] | None:
        with tr.mapped(f"{record_type} feed cursor"):
            try:
                entity = await self._t[TABLE].get_entity(feed_rows.FEED_PARTITION, record_type.value)
            except ResourceNotFoundError as exc:
                if tr.missing_table(exc, False):
                    raise
                return None
        return Stored(tr.text_of(entity), tr.etag_of(entity))

    async def list_feed_cursors(self) -> dict[RecordType, Stored[str]]:
        out: dict[RecordType, Stored[str]] = {}
        with tr.mapped("feed cursors"):
            async for e in self._t[TABLE].query_entities("PartitionKey eq @pk",
                                                         parameters={"pk": feed_rows.FEED_PARTITION}):
                if e["RowKey"] in {t.value for t in RecordType}:
                    out[RecordType(e["RowKey"])] = Stored(tr.text_of(e), tr.etag_of(e))
        return out

    async def put_feed_cursor(self, record_type: RecordType, value: str, etag: str | None = None) -> str:
        entity = tr.with_text(tr.row(feed_rows.FEED_PARTITION, record_type.value), value)
        client = self._t[TABLE]
        with tr.mapped(f"{record_type} feed cursor", creating=etag is None):
            if etag is None:
                meta = await client.create_entity(entity)
            else:
                meta = await client.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                                  match_condition=_IF_MATCH)
        return str(meta["etag"])

    async def put_routed(self, changes: Sequence[RoutedChange]) -> None:
        feed_rows.check_changes(changes)
        by_partition: dict[str, dict[str, batch.Operation]] = {}
        for change in changes:  # the last version of a record wins; one row once per transaction
            entity = _entity(change)
            by_partition.setdefault(entity["PartitionKey"], {})[entity["RowKey"]] = ("upsert", entity,
                                                                                     {"mode": UpdateMode.REPLACE})
        for ops in by_partition.values():
            await self._submit([[op] for op in ops.values()], "routed changes")

    async def list_routed(self, mailbox: str, record_type: RecordType, limit: int,
                          after: str | None = None) -> list[RoutedChange]:
        feed_rows.check_limit(limit)
        out: list[RoutedChange] = []
        query, params = "PartitionKey eq @pk", {"pk": _partition(mailbox, record_type)}
        if after is not None:
            query, params["after"] = query + " and RowKey gt @after", keys.key(after)
        with tr.mapped(f"routed changes of {mailbox}"):
            async for e in self._t[TABLE].query_entities(query, parameters=params, results_per_page=limit):
                if e.get("mailbox") != rules.mailbox_key(mailbox):
                    continue  # another mailbox whose long key hashes into this partition
                out.append(self._decode(e))
                if len(out) >= limit:
                    break
        return out

    async def list_mailbox_routed(self, mailbox: str, limit: int) -> list[RoutedChange]:
        """One range query over the mailbox's partitions (``<mailbox>:<type>``); per type when the
        mailbox's key is long enough to be hashed (no common prefix then)."""
        feed_rows.check_limit(limit)
        head = keys.key(rules.mailbox_key(mailbox), "")
        if keys.HASH_MARK in head or len(head) + 16 > keys.MAX_KEY_CHARS:
            out: list[RoutedChange] = []
            for record_type in sorted(RecordType, key=lambda t: t.value):
                out += await self.list_routed(mailbox, record_type, limit - len(out)) if len(out) < limit else []
            return out
        query = "PartitionKey ge @lo and PartitionKey lt @hi"
        params = {"lo": head, "hi": head[:-1] + chr(ord(keys.SEPARATOR) + 1)}
        found: list[RoutedChange] = []
        with tr.mapped(f"routed changes of {mailbox}"):
            async for e in self._t[TABLE].query_entities(query, parameters=params, results_per_page=limit):
                if e.get("mailbox") == rules.mailbox_key(mailbox):
                    found.append(self._decode(e))
                if len(found) >= limit:
                    break
        return found

    @staticmethod
    def _decode(e: Any) -> RoutedChange:
        record_type = RecordType(str(e["type"]))
        return RoutedChange(str(e["mailbox"]), record_type, str(e["erp_id"]), str(e["version"]), tr.etag_of(e))

    async def delete_routed(self, changes: Sequence[RoutedChange]) -> None:
        by_partition: dict[str, list[RoutedChange]] = {}
        for change in changes:
            by_partition.setdefault(_partition(change.mailbox, change.record_type), []).append(change)
        for partition, group in by_partition.items():
            ops: list[list[batch.Operation]] = [[("delete", tr.row(partition, keys.key(c.erp_id)),
                                                  {"etag": c.etag, "match_condition": _IF_MATCH}
                                                  if c.etag else {})] for c in group]
            try:
                await self._submit(ops, "routed changes")
            except (ConcurrencyConflict, TableTransactionError):
                for change in group:  # one was routed again (or is gone): delete the others one by one
                    await self._delete_one(partition, change)

    async def _delete_one(self, partition: str, change: RoutedChange) -> None:
        client = self._t[TABLE]
        try:
            with tr.mapped("routed change"):
                if change.etag is None:
                    await client.delete_entity(partition, keys.key(change.erp_id))
                else:
                    await client.delete_entity(partition, keys.key(change.erp_id), etag=change.etag,
                                               match_condition=_IF_MATCH)
        except ConcurrencyConflict:
            return  # routed again since it was listed: the newer version stays for the next run

    async def _submit(self, groups: Sequence[Sequence[batch.Operation]], what: str) -> None:
        for ops in batch.plan(groups):
            with tr.mapped(what):
                await self._t[TABLE].submit_transaction(ops)
