"""The state store on Azure Table Storage (``azure.data.tables.aio``).

Tables (each name prefixed with ``table_prefix``): config (policies, servers and mailboxes, in
partitions ``policy`` / ``server`` / ``mailbox``), links, cursors, intents, log, status, leases,
docs, routed. Keys come from :mod:`shared.state.keys`, values are JSON text
from :mod:`shared.state.codec` split over string properties by :mod:`shared.state.rows`. Writes are
conditional on row ETags (``MatchConditions.IfNotModified``) and azure errors become
:mod:`shared.errors` (:func:`shared.state.rows.translate`). Semantics are those of
:mod:`shared.state.rules`, the same as the in-memory twin.

A link is two rows in partition ``<mailbox>:<type>`` — ``e:<erp id>`` and ``m:<mailbox id>`` — each
holding the whole link, written in one transaction, so either id finds it in one point read. The
link's etag is a version token (``ver``) both rows carry; replacing a link reads the ERP row, checks
``ver`` and writes the pair conditional on that row's ETag.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import LogEntry, LogLevel, MailboxStatus
from shared.errors import AlreadyExists, ConcurrencyConflict, ValidationFailed
from shared.ports import (
    Clock,
    ConfigSnapshot,
    CursorBook,
    Intent,
    Link,
    MailboxContext,
    Page,
    Side,
    StateStore,
    Stored,
)
from shared.state import batch, codec, config_upgrade, cursors, keys, rules
from shared.state import rows as tr
from shared.state.feed_table import TableFeedRows

log = logging.getLogger(__name__)

TABLES = ("config", "links", "cursors", "intents", "log", "status", "leases", "docs", "routed")
_CONFIG = "config"
_POLICY, _SERVER, _MAILBOX_PK = "policy", "server", "mailbox"  # the config table's partitions
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,40}$|^$")
_IF_MATCH = MatchConditions.IfNotModified
_ERP, _MAILBOX = "e", "m"
_PARALLEL_READS = 16
_DELETE_ATTEMPTS = 3
_OR_KEYS = 15  # row keys per query: Table Storage allows 15 comparisons in one filter
_BOOK = "~cursors"  # row key of a mailbox's cursor book ("~" never starts an escaped key)

def _mailbox_key(email: str) -> str:
    return keys.key(rules.mailbox_key(email))


def _policy(entity: Any) -> Stored[SyncPolicy]:
    return Stored(codec.decode_policy(tr.text_of(entity)), tr.etag_of(entity))


def _server(entity: Any) -> Stored[ServerConfig]:
    return Stored(codec.decode_server(tr.text_of(entity)), tr.etag_of(entity))


def _mailbox(entity: Any) -> Stored[Mailbox]:
    return Stored(codec.decode_mailbox(tr.text_of(entity)), tr.etag_of(entity))


def _snapshot(entities: Sequence[Any]) -> ConfigSnapshot:
    """The config rows of one query, each kind in RowKey order (the order of its ``list_*``)."""
    ordered = sorted(entities, key=lambda e: str(e["RowKey"]))

    def of(partition: str, decode: Callable[[Any], Any]) -> tuple[Any, ...]:
        return tuple(decode(e) for e in ordered if e["PartitionKey"] == partition)

    return ConfigSnapshot(of(_POLICY, _policy), of(_SERVER, _server), of(_MAILBOX_PK, _mailbox))


def _check_no_handover(links: Sequence[Link], groups: Sequence[Sequence[batch.Operation]]) -> None:
    """AlreadyExists when a link takes a mailbox id another link of the batch still holds.

    The twin judges every link against the state before the batch; so does this, and it keeps
    one row from appearing twice in a transaction (which the service rejects).
    """
    released = {op[1]["RowKey"] for group in groups for op in group if op[0] == "delete"}
    for link, group in zip(links, groups, strict=True):
        if any(op[0] == "create" and op[1]["RowKey"] in released for op in group):
            raise AlreadyExists(f"{rules.link_label(link)}: mailbox item is already linked to another ERP record")


class TableStateStore(TableFeedRows):
    """A :class:`shared.ports.StateStore` on Azure Table Storage (or Azurite).

    Build it with :meth:`from_connection_string` (Azurite, tests) or :meth:`from_endpoint`
    (production, an azure-identity credential), call :meth:`create_tables` once and
    :meth:`aclose` at the end. ``stats`` counts transactions and their largest size.
    """

    def __init__(self, service: TableServiceClient, *, table_prefix: str = "",
                 retention_days: int = rules.DEFAULT_RETENTION_DAYS, clock: Clock | None = None):
        if not _PREFIX.match(table_prefix):
            raise ValidationFailed({"table_prefix": "letters and digits only, starting with a letter, "
                                                    f"at most 41 characters; got {table_prefix!r}"})
        self._service = service
        self._prefix = table_prefix
        self._retention = rules.retention(retention_days)
        self._clock: Clock = clock or rules.UtcClock()
        self._t = {name: service.get_table_client(table_prefix + name) for name in TABLES}
        self.stats: dict[str, int] = {"transactions": 0, "operations": 0, "largest": 0}
        self._lease_etags: dict[tuple[str, str], str] = {}

    @classmethod
    def from_connection_string(cls, conn_str: str, *, table_prefix: str = "",
                               retention_days: int = rules.DEFAULT_RETENTION_DAYS,
                               clock: Clock | None = None) -> TableStateStore:
        return cls(TableServiceClient.from_connection_string(conn_str), table_prefix=table_prefix,
                   retention_days=retention_days, clock=clock)

    @classmethod
    def from_endpoint(cls, table_endpoint: str, credential: Any, *, table_prefix: str = "",
                      retention_days: int = rules.DEFAULT_RETENTION_DAYS,
                      clock: Clock | None = None) -> TableStateStore:
        """Production: ``https://<account>.table.core.windows.net`` and a token credential."""
        return cls(TableServiceClient(endpoint=table_endpoint, credential=credential),
                   table_prefix=table_prefix, retention_days=retention_days, clock=clock)

    async def create_tables(self) -> None:
        """Create every table that does not exist yet (idempotent; the tables in parallel), then adopt
        the configuration tables of an earlier version once (:mod:`shared.state.config_upgrade`)."""
        await asyncio.gather(*(self._table_call(self._service.create_table_if_not_exists, n) for n in TABLES))
        await config_upgrade.adopt_legacy_config(self._service, self._t[_CONFIG], self._prefix)
        log.info("state tables ready (prefix %r)", self._prefix)

    async def delete_tables(self) -> None:
        """Drop every table of this prefix (tests and benchmarks clean up with it)."""
        await asyncio.gather(*(self._table_call(self._service.delete_table, n) for n in TABLES))

    async def _table_call(self, call: Callable[[str], Awaitable[Any]], name: str) -> None:
        with tr.mapped(f"table {self._prefix}{name}"):
            await call(self._prefix + name)

    async def aclose(self) -> None:
        for client in self._t.values():
            await client.close()
        await self._service.close()

    def _now(self) -> datetime:
        return codec.utc(self._clock.now())

    # ------------------------------------------------------------ generic rows

    async def _get(self, table: str, partition: str, row: str, what: str) -> Any | None:
        with tr.mapped(what):
            try:
                return await self._t[table].get_entity(partition, row)
            except ResourceNotFoundError as exc:
                if tr.missing_table(exc, False):
                    raise
                return None

    async def _put(self, table: str, entity: tr.Entity, etag: str | None, force: bool, what: str) -> str:
        """Create-only (etag None), conditional replace (etag) or upsert (force); the new etag."""
        client = self._t[table]
        with tr.mapped(what, creating=etag is None):
            if force:
                meta = await client.upsert_entity(entity, mode=UpdateMode.REPLACE)
            elif etag is None:
                meta = await client.create_entity(entity)
            else:
                meta = await client.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                                  match_condition=_IF_MATCH)
        return str(meta["etag"])

    async def _delete(self, table: str, partition: str, row: str, etag: str | None, what: str) -> None:
        """Delete (conditionally with an etag); a missing row is not an error."""
        with tr.mapped(what):
            if etag is None:
                await self._t[table].delete_entity(partition, row)
            else:
                await self._t[table].delete_entity(partition, row, etag=etag, match_condition=_IF_MATCH)

    async def _query(self, table: str, query: str, what: str, *, select: list[str] | None = None,
                     per_page: int | None = None, **params: Any) -> AsyncIterator[Any]:
        with tr.mapped(what):
            async for entity in self._t[table].query_entities(query, parameters=params, select=select,
                                                              results_per_page=per_page):
                yield entity

    async def _transact(self, table: str, groups: Sequence[Sequence[batch.Operation]], what: str) -> None:
        """Run ``groups`` in as few ≤100-operation, one-partition transactions as the limits allow."""
        for ops in batch.plan(groups):
            with tr.mapped(what):
                try:
                    await self._t[table].submit_transaction(ops)
                except TableTransactionError as exc:
                    log.debug("transaction of %d failed at operation %s: %s", len(ops), exc.index,
                              exc.error_code)
                    raise
            self.stats["transactions"] += 1
            self.stats["operations"] += len(ops)
            self.stats["largest"] = max(self.stats["largest"], len(ops))

    # ------------------------------------------------------------ policies, servers, mailboxes

    async def get_policy(self, name: str) -> Stored[SyncPolicy] | None:
        entity = await self._get(_CONFIG, _POLICY, keys.key(name), f"policy {name!r}")
        return None if entity is None else _policy(entity)

    async def list_policies(self) -> list[Stored[SyncPolicy]]:
        return [_policy(e) async for e in self._query(_CONFIG, "PartitionKey eq @pk", "policies", pk=_POLICY)]

    async def put_policy(self, policy: SyncPolicy, etag: str | None = None, *, force: bool = False) -> str:
        entity = tr.with_text(tr.row(_POLICY, keys.key(policy.name), name=policy.name), codec.encode_policy(policy))
        return await self._put(_CONFIG, entity, etag, force, f"policy {policy.name!r}")

    async def delete_policy(self, name: str, etag: str | None = None) -> None:
        await self._delete(_CONFIG, _POLICY, keys.key(name), etag, f"policy {name!r}")

    async def get_server(self, name: str) -> Stored[ServerConfig] | None:
        entity = await self._get(_CONFIG, _SERVER, keys.key(name), f"server {name!r}")
        return None if entity is None else _server(entity)

    async def list_servers(self) -> list[Stored[ServerConfig]]:
        return [_server(e) async for e in self._query(_CONFIG, "PartitionKey eq @pk", "servers", pk=_SERVER)]

    async def put_server(self, server: ServerConfig, etag: str | None = None, *, force: bool = False) -> str:
        entity = tr.with_text(tr.row(_SERVER, keys.key(server.name), name=server.name), codec.encode_server(server))
        return await self._put(_CONFIG, entity, etag, force, f"server {server.name!r}")

    async def delete_server(self, name: str, etag: str | None = None) -> None:
        await self._delete(_CONFIG, _SERVER, keys.key(name), etag, f"server {name!r}")

    async def get_mailbox(self, email: str) -> Stored[Mailbox] | None:
        entity = await self._get(_CONFIG, _MAILBOX_PK, _mailbox_key(email), f"mailbox {email!r}")
        return None if entity is None else _mailbox(entity)

    async def list_mailboxes(self, server: str | None = None) -> list[Stored[Mailbox]]:
        if server is None:
            rows = self._query(_CONFIG, "PartitionKey eq @pk", "mailboxes", pk=_MAILBOX_PK)
        else:
            rows = self._query(_CONFIG, "PartitionKey eq @pk and server eq @server", "mailboxes",
                               pk=_MAILBOX_PK, server=server)
        return [_mailbox(e) async for e in rows]

    async def put_mailbox(self, mailbox: Mailbox, etag: str | None = None, *, force: bool = False) -> str:
        entity = tr.with_text(tr.row(_MAILBOX_PK, _mailbox_key(mailbox.email), server=mailbox.server),
                              codec.encode_mailbox(mailbox))
        return await self._put(_CONFIG, entity, etag, force, f"mailbox {mailbox.email!r}")

    async def delete_mailbox(self, email: str, etag: str | None = None) -> None:
        await self._delete(_CONFIG, _MAILBOX_PK, _mailbox_key(email), etag, f"mailbox {email!r}")

    async def get_mailbox_context(self, email: str) -> MailboxContext:
        """One query: the mailbox's row plus every server and policy (a tenant has a handful of each;
        the query pages through them like every other)."""
        # parameters are substituted between spaces: the brackets need them too
        query = "( PartitionKey eq @m and RowKey eq @rk ) or PartitionKey eq @s or PartitionKey eq @p"
        rows = self._query(_CONFIG, query, f"configuration of mailbox {email!r}", m=_MAILBOX_PK,
                           rk=_mailbox_key(email), s=_SERVER, p=_POLICY)
        return _snapshot([e async for e in rows]).context(email)

    async def list_config(self) -> ConfigSnapshot:
        """One query: every policy, server and mailbox (paged through)."""
        rows = self._query(_CONFIG, "PartitionKey eq @m or PartitionKey eq @s or PartitionKey eq @p", "configuration",
                           m=_MAILBOX_PK, s=_SERVER, p=_POLICY)
        return _snapshot([e async for e in rows])

    # ------------------------------------------------------------ links

    @staticmethod
    def _link_partition(mailbox: str, record_type: RecordType) -> str:
        return keys.key(mailbox, record_type.value)

    async def _link_row(self, mailbox: str, record_type: RecordType, side: str, item_id: str) -> Any | None:
        entity = await self._get("links", self._link_partition(mailbox, record_type), keys.key(side, item_id),
                                 f"link {mailbox}/{record_type.value}")
        if entity is None:
            return None
        link = codec.decode_link(tr.text_of(entity), None)
        found = link.erp_id if side == _ERP else link.mailbox_id
        return entity if found == item_id else None  # a hashed key collision is never a match

    def _decode_link_row(self, entity: Any) -> Link:
        return codec.decode_link(tr.text_of(entity), str(entity["ver"]))

    async def get_link_by_erp(self, mailbox: str, record_type: RecordType, erp_id: str) -> Link | None:
        entity = await self._link_row(mailbox, record_type, _ERP, erp_id)
        return None if entity is None else self._decode_link_row(entity)

    async def get_link_by_mailbox(self, mailbox: str, record_type: RecordType,
                                  mailbox_id: str) -> Link | None:
        entity = await self._link_row(mailbox, record_type, _MAILBOX, mailbox_id)
        return None if entity is None else self._decode_link_row(entity)

    async def get_links(self, mailbox: str, record_type: RecordType, side: Side,
                        ids: Sequence[str]) -> dict[str, Link]:
        """Queries of ``_OR_KEYS`` row keys each (the service's limit on comparisons per filter), in parallel."""
        prefix = _ERP if side is Side.ERP else _MAILBOX
        unique = list(dict.fromkeys(ids))
        wanted = set(unique)
        chunks = [unique[i:i + _OR_KEYS] for i in range(0, len(unique), _OR_KEYS)]
        reads = asyncio.Semaphore(_PARALLEL_READS)

        async def query(chunk: list[str]) -> list[Link]:
            params: dict[str, Any] = {f"r{n}": keys.key(prefix, item_id) for n, item_id in enumerate(chunk)}
            params["pk"] = self._link_partition(mailbox, record_type)
            rows = " or ".join(f"RowKey eq @r{n}" for n in range(len(chunk)))
            async with reads:
                return [self._decode_link_row(e) async for e in self._query(
                    "links", f"PartitionKey eq @pk and ( {rows} )", f"links of {mailbox}/{record_type.value}",
                    **params)]

        out: dict[str, Link] = {}
        for links in await asyncio.gather(*(query(chunk) for chunk in chunks)):
            for link in links:
                found = link.erp_id if side is Side.ERP else link.mailbox_id
                if found in wanted:  # a hashed key collision is never a match
                    out[found] = link
        return out

    async def _link_ops(self, link: Link, text: str, ver: str) -> list[batch.Operation]:
        """The operations writing ``link`` (insert, or replace of the version ``link.etag``)."""
        pk = self._link_partition(link.mailbox, link.record_type)
        erp_row = tr.with_text(tr.row(pk, keys.key(_ERP, link.erp_id), ver=ver), text)
        mailbox_row = tr.with_text(tr.row(pk, keys.key(_MAILBOX, link.mailbox_id), ver=ver), text)
        if link.etag is None:
            return [("create", erp_row, {}), ("create", mailbox_row, {})]
        current = await self._link_row(link.mailbox, link.record_type, _ERP, link.erp_id)
        if current is None or current["ver"] != link.etag:
            raise ConcurrencyConflict(f"{rules.link_label(link)} changed since it was read (stale etag); "
                                      "read it again")
        ops: list[batch.Operation] = [("update", erp_row, {"mode": UpdateMode.REPLACE, "etag": tr.etag_of(current),
                                                           "match_condition": _IF_MATCH})]
        old_mailbox_id = codec.decode_link(tr.text_of(current), None).mailbox_id
        if old_mailbox_id == link.mailbox_id:
            ops.append(("upsert", mailbox_row, {"mode": UpdateMode.REPLACE}))
        else:
            ops.append(("delete", tr.row(pk, keys.key(_MAILBOX, old_mailbox_id)), {}))
            ops.append(("create", mailbox_row, {}))
        return ops

    async def put_link(self, link: Link) -> Link:
        text = rules.checked_link_text(link)
        ver = uuid.uuid4().hex
        ops = await self._link_ops(link, text, ver)
        await self._transact("links", [ops], rules.link_label(link))
        return dataclasses.replace(link, etag=ver)

    async def put_links(self, links: Sequence[Link]) -> list[Link]:
        rules.check_link_batch(links)
        texts = [rules.checked_link_text(link) for link in links]
        vers = [uuid.uuid4().hex for _ in links]
        reads = asyncio.Semaphore(_PARALLEL_READS)

        async def ops(link: Link, text: str, ver: str) -> list[batch.Operation]:
            async with reads:
                return await self._link_ops(link, text, ver)

        groups = await asyncio.gather(*(ops(link, text, ver)
                                        for link, text, ver in zip(links, texts, vers, strict=True)))
        _check_no_handover(links, groups)
        if links:
            await self._transact("links", groups, f"links of {links[0].mailbox}/{links[0].record_type.value}")
        log.debug("stored %d links", len(links))
        return [dataclasses.replace(link, etag=ver) for link, ver in zip(links, vers, strict=True)]

    async def delete_link(self, link: Link) -> None:
        """Delete both rows (only version ``link.etag`` if given); unconditional deletes retry races."""
        for attempt in range(_DELETE_ATTEMPTS):
            current = await self._link_row(link.mailbox, link.record_type, _ERP, link.erp_id)
            if current is None:
                return
            if link.etag is not None and current["ver"] != link.etag:
                raise ConcurrencyConflict(f"{rules.link_label(link)} changed since it was read (stale etag)")
            pk = self._link_partition(link.mailbox, link.record_type)
            mailbox_id = codec.decode_link(tr.text_of(current), None).mailbox_id
            ops: list[batch.Operation] = [
                ("delete", tr.row(pk, current["RowKey"]), {"etag": tr.etag_of(current), "match_condition": _IF_MATCH}),
                ("delete", tr.row(pk, keys.key(_MAILBOX, mailbox_id)), {}),
            ]
            try:
                await self._transact("links", [ops], rules.link_label(link))
                return
            except ConcurrencyConflict:
                if link.etag is not None or attempt == _DELETE_ATTEMPTS - 1:
                    raise
                log.debug("link changed while deleting it; reading it again")

    async def list_links(self, mailbox: str, record_type: RecordType, cursor: str | None,
                         page_size: int) -> Page[Link]:
        rules.check_page_size(page_size, "page_size")
        after = rules.decode_cursor(cursor)
        low, high = keys.prefix_range(_ERP, "")
        query = "PartitionKey eq @pk and RowKey lt @high and " + (
            "RowKey ge @low" if after is None else "RowKey gt @low")
        chosen: list[Any] = []
        async for entity in self._query("links", query, f"links of {mailbox}/{record_type.value}",
                                        per_page=page_size + 1, pk=self._link_partition(mailbox, record_type),
                                        low=after or low, high=high):
            chosen.append(entity)
            if len(chosen) > page_size:
                break
        more = len(chosen) > page_size
        page = tuple(self._decode_link_row(e) for e in chosen[:page_size])
        return Page(page, rules.encode_cursor(chosen[page_size - 1]["RowKey"]) if more else None,
                    complete=not more)

    # ------------------------------------------------------------ cursors

    async def get_cursor(self, mailbox: str, name: str) -> Stored[str] | None:
        book = await self.get_cursors(mailbox)
        value = book.values.get(name)
        return None if value is None or book.etag is None else Stored(value, book.etag)

    async def put_cursor(self, mailbox: str, name: str, value: str, etag: str | None = None) -> str:
        """One value of the book; ``etag`` None upserts it (re-reading the book on a race)."""
        rules.check_id(mailbox, "mailbox")
        for attempt in range(_DELETE_ATTEMPTS):
            book = await self.get_cursors(mailbox)
            values = cursors.changed(book, name, value, etag)
            if values is None and book.etag is not None:
                return book.etag
            try:
                return (await self.put_cursors(dataclasses.replace(book, values=values or {}))).etag or ""
            except (ConcurrencyConflict, AlreadyExists):
                if etag is not None or attempt == _DELETE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def delete_cursor(self, mailbox: str, name: str) -> None:
        for attempt in range(_DELETE_ATTEMPTS):
            book = await self.get_cursors(mailbox)
            values = cursors.changed(book, name, None)
            if values is None:
                return
            try:
                await self.put_cursors(dataclasses.replace(book, values=values))
                return
            except (ConcurrencyConflict, AlreadyExists):
                if attempt == _DELETE_ATTEMPTS - 1:
                    raise

    async def get_cursors(self, mailbox: str) -> CursorBook:
        """The book in one partition query; a mailbox whose cursors predate the book (one row per
        name) gets them as an unstored book, moved into the book by the first put."""
        book, legacy = await self._cursor_rows(mailbox)
        if book is not None:
            return CursorBook(mailbox, cursors.decode(tr.text_of(book), f"cursors of {mailbox}"), tr.etag_of(book))
        return CursorBook(mailbox, {str(e["name"]): tr.text_of(e) for e in legacy})

    async def put_cursors(self, book: CursorBook) -> CursorBook:
        text = cursors.encode(book)
        partition = keys.key(book.mailbox)
        entity = tr.with_text(tr.row(partition, _BOOK, mailbox=book.mailbox), text)
        what = f"cursors of {book.mailbox}"
        etag = await self._put("cursors", entity, book.etag, False, what)
        if book.etag is None:  # first book of the mailbox: drop the per-name rows it replaces
            _, legacy = await self._cursor_rows(book.mailbox)
            if legacy:
                await self._transact("cursors", [[("delete", e, {})] for e in legacy], what)
        return dataclasses.replace(book, values=dict(book.values), etag=etag)

    async def _cursor_rows(self, mailbox: str) -> tuple[Any | None, list[Any]]:
        """(the book row, the per-name rows of older versions) of ``mailbox``."""
        book, legacy = None, []
        async for entity in self._query("cursors", "PartitionKey eq @pk", f"cursors of {mailbox}",
                                        pk=keys.key(mailbox)):
            if entity.get("mailbox") != mailbox:
                continue  # another mailbox whose long key hashes into this partition
            if entity["RowKey"] == _BOOK:
                book = entity
            elif isinstance(entity.get("name"), str):
                legacy.append(entity)
        return book, legacy

    # ------------------------------------------------------------ intents

    async def put_intent(self, intent: Intent) -> Intent:
        entity = tr.with_text(tr.row(keys.key(intent.mailbox, intent.record_type.value), keys.key(intent.intent_id),
                                 created_at=codec.utc(intent.created_at)), codec.encode_intent(intent))
        etag = await self._put("intents", entity, intent.etag, False, f"intent {intent.intent_id!r}")
        return dataclasses.replace(intent, etag=etag)

    def _intent_entity(self, intent: Intent) -> tr.Entity:
        return tr.with_text(tr.row(keys.key(intent.mailbox, intent.record_type.value), keys.key(intent.intent_id),
                                   created_at=codec.utc(intent.created_at)), codec.encode_intent(intent))

    async def put_intents(self, intents: Sequence[Intent]) -> list[Intent]:
        rules.check_intent_batch(intents)
        if intents:
            await self._transact("intents", [[("create", self._intent_entity(i), {})] for i in intents],
                                 f"intents of {intents[0].mailbox}/{intents[0].record_type.value}")
        return list(intents)

    async def delete_intents(self, intents: Sequence[Intent]) -> None:
        rows = [(keys.key(i.mailbox, i.record_type.value), keys.key(i.intent_id)) for i in intents]
        try:
            await self._delete_rows("intents", rows, "intents")
        except ConcurrencyConflict:  # a transaction fails on a missing row: delete one by one instead
            for partition, row in rows:
                await self._delete("intents", partition, row, None, "intent")

    async def delete_intent(self, intent: Intent) -> None:
        await self._delete("intents", keys.key(intent.mailbox, intent.record_type.value),
                           keys.key(intent.intent_id), intent.etag, f"intent {intent.intent_id!r}")

    async def list_intents(self, mailbox: str, record_type: RecordType) -> list[Intent]:
        return [codec.decode_intent(tr.text_of(e), tr.etag_of(e)) async for e in
                self._query("intents", "PartitionKey eq @pk", "intents", pk=keys.key(mailbox, record_type.value))]

    async def list_mailbox_intents(self, mailbox: str) -> list[Intent]:
        """One range query over the mailbox's intent partitions (``<mailbox>:<type>``); per type
        when the mailbox's keys are long enough to be hashed (no common prefix then)."""
        head = keys.key(mailbox, "")
        if keys.HASH_MARK in head or len(head) + 16 > keys.MAX_KEY_CHARS:
            out: list[Intent] = []
            for record_type in RecordType:
                out += await self.list_intents(mailbox, record_type)
            return out
        found = [codec.decode_intent(tr.text_of(e), tr.etag_of(e)) async for e in self._query(
            "intents", "PartitionKey ge @lo and PartitionKey lt @hi", "intents",
            lo=head, hi=head[:-1] + chr(ord(keys.SEPARATOR) + 1))]
        return [i for i in found if i.mailbox == mailbox]

    async def _delete_rows(self, table: str, rows: Sequence[tuple[str, str]], what: str) -> int:
        """Delete (partition, row) pairs, one transaction per ≤100 rows of a partition."""
        by_partition: dict[str, list[batch.Operation]] = {}
        for partition, row in rows:
            by_partition.setdefault(partition, []).append(("delete", tr.row(partition, row), {}))
        for ops in by_partition.values():
            await self._transact(table, [[op] for op in ops], what)
        return len(rows)

    async def purge_intents(self, older_than: datetime) -> int:
        rows = [(e["PartitionKey"], e["RowKey"]) async for e in
                self._query("intents", "created_at lt @limit", "intents", select=["PartitionKey", "RowKey"],
                            limit=codec.utc(older_than))]
        purged = await self._delete_rows("intents", rows, "intents")
        log.info("purged %d intents", purged)
        return purged

    # ------------------------------------------------------------ status

    async def get_status(self, email: str) -> Stored[MailboxStatus] | None:
        entity = await self._get("status", keys.key(rules.mailbox_key(email)), "status", f"status of {email!r}")
        return None if entity is None else Stored(codec.decode_status(tr.text_of(entity)), tr.etag_of(entity))

    async def put_status(self, status: MailboxStatus, etag: str | None = None, *, force: bool = False) -> str:
        text = codec.encode_status(status)
        rules.check_text_size(text, "status")
        entity = tr.with_text(tr.row(keys.key(rules.mailbox_key(status.email)), "status"), text)
        return await self._put("status", entity, etag, force, f"status of {status.email!r}")

    # ------------------------------------------------------------ log

    async def append_log(self, email: str, entries: Sequence[LogEntry]) -> None:
        pk = keys.key(rules.mailbox_key(email))
        groups: list[list[batch.Operation]] = []
        for position, entry in enumerate(entries):
            at = codec.utc(entry.at)
            row = tr.row(pk, keys.log_row_key(at, position), level=int(entry.level), at=at,
                       message=codec.clip_message(entry.message), expires_at=at + self._retention)
            if entry.record_type is not None:
                row["record_type"] = entry.record_type.value
            groups.append([("create", row, {})])
        await self._transact("log", groups, f"log of {email!r}")

    async def list_log(self, email: str, min_level: LogLevel | None, limit: int,
                       cursor: str | None) -> Page[LogEntry]:
        rules.check_page_size(limit, "limit")
        after = rules.decode_cursor(cursor)
        query = "PartitionKey eq @pk and expires_at gt @now"
        params: dict[str, Any] = {"pk": keys.key(rules.mailbox_key(email)), "now": self._now()}
        if min_level is not None:
            query += " and level ge @level"
            params["level"] = int(min_level)
        if after is not None:
            query += " and RowKey gt @after"
            params["after"] = after
        chosen: list[Any] = []
        async for entity in self._query("log", query, f"log of {email!r}", per_page=limit + 1, **params):
            chosen.append(entity)
            if len(chosen) > limit:
                break
        more = len(chosen) > limit
        page = tuple(codec.log_entry(e["level"], e["at"], e["message"], e.get("record_type"))
                     for e in chosen[:limit])
        return Page(page, rules.encode_cursor(chosen[limit - 1]["RowKey"]) if more else None, complete=not more)

    async def clear_log(self, email: str) -> int:
        rows = [(e["PartitionKey"], e["RowKey"]) async for e in
                self._query("log", "PartitionKey eq @pk", "log", select=["PartitionKey", "RowKey"],
                            pk=keys.key(rules.mailbox_key(email)))]
        return await self._delete_rows("log", rows, f"log of {email!r}")

    async def purge_log(self, older_than: datetime) -> int:
        rows = [(e["PartitionKey"], e["RowKey"]) async for e in
                self._query("log", "at lt @limit or expires_at le @now", "log",
                            select=["PartitionKey", "RowKey"], limit=codec.utc(older_than), now=self._now())]
        purged = await self._delete_rows("log", rows, "log")
        log.info("purged %d log entries", purged)
        return purged

    # ------------------------------------------------------------ leases

    def _lease_entity(self, key: str, owner: str, ttl_seconds: float) -> tr.Entity:
        rules.check_id(key, "key")
        rules.check_id(owner, "owner")
        until = self._now() + timedelta(seconds=rules.check_ttl(ttl_seconds))
        return tr.row("lease", keys.key(key), name=key, owner=owner, expires_at=until)

    async def acquire_lease(self, key: str, owner: str, ttl_seconds: float) -> bool:
        """A free lease costs one request (the insert); a held or expired one a read and a write.

        The etag of each lease this store holds is remembered (``_lease_etags``) so that renewing
        and releasing it are one conditional request each; a stale etag (412) falls back to a read,
        so the memory never decides anything on its own."""
        entity = self._lease_entity(key, owner, ttl_seconds)
        try:
            self._lease_etags[(key, owner)] = await self._put("leases", entity, None, False, f"lease {key!r}")
            return True
        except AlreadyExists:
            pass
        current = await self._get("leases", "lease", entity["RowKey"], f"lease {key!r}")
        if current is not None and current["owner"] != owner and codec.utc(current["expires_at"]) > self._now():
            return False
        try:
            etag = await self._put("leases", entity, None if current is None else tr.etag_of(current), False,
                                   f"lease {key!r}")
        except (AlreadyExists, ConcurrencyConflict):
            log.debug("lease %r taken by another worker meanwhile", key)
            return False
        self._lease_etags[(key, owner)] = etag
        return True

    async def renew_lease(self, key: str, owner: str, ttl_seconds: float) -> bool:
        entity = self._lease_entity(key, owner, ttl_seconds)
        known = self._lease_etags.pop((key, owner), None)
        if known is not None:
            with contextlib.suppress(ConcurrencyConflict):
                self._lease_etags[(key, owner)] = await self._put("leases", entity, known, False, f"lease {key!r}")
                return True
        current = await self._get("leases", "lease", entity["RowKey"], f"lease {key!r}")
        if current is None or current["owner"] != owner:
            return False
        try:
            self._lease_etags[(key, owner)] = await self._put("leases", entity, tr.etag_of(current), False,
                                                              f"lease {key!r}")
        except ConcurrencyConflict:
            return False
        return True

    async def release_lease(self, key: str, owner: str) -> None:
        known = self._lease_etags.pop((key, owner), None)
        if known is not None:
            with contextlib.suppress(ConcurrencyConflict):
                await self._delete("leases", "lease", keys.key(key), known, f"lease {key!r}")
                return
        current = await self._get("leases", "lease", keys.key(key), f"lease {key!r}")
        if current is None or current["owner"] != owner:
            return
        try:
            await self._delete("leases", "lease", keys.key(key), tr.etag_of(current), f"lease {key!r}")
        except ConcurrencyConflict:
            log.debug("lease %r changed hands before release", key)

    async def purge_leases(self) -> int:
        expired = [e async for e in self._query("leases", "expires_at le @now", "leases", now=self._now())]
        purged = 0
        for entity in expired:
            try:  # conditional: a lease re-acquired since the query keeps its row
                await self._delete("leases", entity["PartitionKey"], entity["RowKey"], tr.etag_of(entity),
                                   f"lease {entity['name']!r}")
                purged += 1
            except ConcurrencyConflict:
                log.debug("lease %r re-acquired before purge", entity["name"])
        log.info("purged %d expired leases", purged)
        return purged

    # ------------------------------------------------------------ documents

    async def get_doc(self, kind: str, key: str) -> Stored[dict[str, Any]] | None:
        entity = await self._get("docs", keys.key(kind), keys.key(key), f"document {kind}/{key!r}")
        if entity is None or entity["key"] != key:
            return None
        return Stored(codec.decode_doc(tr.text_of(entity)), tr.etag_of(entity))

    async def put_doc(self, kind: str, key: str, value: dict[str, Any], etag: str | None = None,
                      *, force: bool = False) -> str:
        rules.check_id(key, "key")
        text = codec.encode_doc(value, kind)
        rules.check_text_size(text, f"doc.{kind}")
        entity = tr.with_text(tr.row(keys.key(kind), keys.key(key), key=key), text)
        return await self._put("docs", entity, etag, force, f"document {kind}/{key!r}")

    async def delete_doc(self, kind: str, key: str) -> None:
        await self._delete("docs", keys.key(kind), keys.key(key), None, f"document {kind}/{key!r}")

    async def list_docs(self, kind: str, prefix: str = "") -> list[tuple[str, Stored[dict[str, Any]]]]:
        low, high = keys.prefix_range(prefix)
        query = "PartitionKey eq @pk"
        params: dict[str, Any] = {"pk": keys.key(kind)}
        if high is not None:
            query += " and RowKey ge @low and RowKey lt @high"
            params |= {"low": low, "high": high}
        return [(str(e["key"]), Stored(codec.decode_doc(tr.text_of(e)), tr.etag_of(e)))
                async for e in self._query("docs", query, f"documents {kind}", **params)
                if str(e["key"]).startswith(prefix)]


def _conforms(store: TableStateStore) -> StateStore:
    """Type check only: the Table store implements the whole StateStore protocol."""
    return store
