"""The in-memory twin of the Table Storage state store, for unit and property tests.

It keeps the exact semantics of :class:`shared.state.table.TableStateStore` (both pass
``tests/contract/test_state_store.py``); see :mod:`shared.state.rules` for the rules both share.
Values are held as JSON text (:mod:`shared.state.codec`), so nothing a caller holds aliases
stored state.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import LogEntry, LogLevel, MailboxStatus
from shared.errors import AlreadyExists, ConcurrencyConflict
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
from shared.state import codec, cursors, keys, rules
from shared.state.feed_memory import FEED_METHODS, MemoryFeedRows

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@dataclasses.dataclass(slots=True)
class _Row:
    text: str
    etag: str


@dataclasses.dataclass(frozen=True, slots=True)
class _LogRow:
    level: int
    at: datetime
    message: str
    record_type: str | None
    expires_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class _Lease:
    owner: str
    expires_at: datetime


def _etag() -> str:
    return f'W/"{uuid.uuid4().hex}"'


_FAULTABLE: set[str] = set(FEED_METHODS)


def _faultable(
    method: Callable[Concatenate[InMemoryStateStore, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[InMemoryStateStore, P], Coroutine[Any, Any, T]]:
    """Let :meth:`InMemoryStateStore.fail_next` make ``method`` raise before doing anything."""

    async def wrapper(self: InMemoryStateStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        pending = self._faults.get(method.__name__)
        if pending:
            raise pending.pop(0)
        return await method(self, *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = method.__name__
    wrapper.__doc__ = method.__doc__
    _FAULTABLE.add(method.__name__)
    return wrapper


def _put(table: dict[Any, _Row], key: Any, text: str, etag: str | None, force: bool, what: str) -> str:
    """Create-only (etag None), conditional replace (etag) or upsert (force); the new etag."""
    current = table.get(key)
    if not force:
        if etag is None and current is not None:
            raise AlreadyExists(f"{what} already exists; read it and pass its etag to replace it")
        if etag is not None and (current is None or current.etag != etag):
            raise ConcurrencyConflict(f"{what} changed since it was read (stale etag); read it again")
    new = _etag()
    table[key] = _Row(text, new)
    return new


def _delete(table: dict[Any, _Row], key: Any, etag: str | None, what: str) -> None:
    """Delete (conditionally with an etag); a missing row is not an error."""
    current = table.get(key)
    if current is None:
        return
    if etag is not None and current.etag != etag:
        raise ConcurrencyConflict(f"{what} changed since it was read (stale etag); read it again")
    del table[key]


class InMemoryStateStore(MemoryFeedRows):
    """A :class:`shared.ports.StateStore` held in dictionaries.

    ``clock`` (anything with ``now() -> datetime``) drives lease expiry and log retention;
    it defaults to UTC now. ``retention_days`` is how long log entries stay visible.

    Fault hook for property tests: ``store.fail_next("put_link", ConcurrencyConflict("boom"))``
    makes the next call of that method raise the given exception before touching any state
    (call it several times to queue several faults; :meth:`clear_faults` drops them).
    """

    def __init__(self, clock: Clock | None = None, *, retention_days: int = rules.DEFAULT_RETENTION_DAYS):
        self._clock: Clock = clock or rules.UtcClock()
        self._retention = rules.retention(retention_days)
        self._faults: dict[str, list[BaseException]] = {}
        self._policies: dict[str, _Row] = {}
        self._servers: dict[str, _Row] = {}
        self._mailboxes: dict[str, _Row] = {}
        self._links: dict[tuple[str, RecordType], dict[str, _Row]] = {}
        self._link_index: dict[tuple[str, RecordType], dict[str, str]] = {}
        self._cursors: dict[str, _Row] = {}  # mailbox -> its cursor book
        self._intents: dict[tuple[str, RecordType], dict[str, _Row]] = {}
        self._status: dict[str, _Row] = {}
        self._log: dict[str, dict[str, _LogRow]] = {}
        self._leases: dict[str, _Lease] = {}
        self._docs: dict[str, dict[str, _Row]] = {}
        self._feed_init()

    # ------------------------------------------------------------ fault hook

    def fail_next(self, method_name: str, exc: BaseException) -> None:
        """Make the next call of ``method_name`` raise ``exc`` (queued, one per call)."""
        if method_name not in _FAULTABLE:
            raise ValueError(f"method_name: {method_name!r} is not a StateStore method of this store")
        self._faults.setdefault(method_name, []).append(exc)

    def clear_faults(self) -> None:
        self._faults.clear()

    async def create_tables(self) -> None:
        """Nothing to create (present for symmetry with the Table store)."""

    async def aclose(self) -> None:
        """Nothing to release (present for symmetry with the Table store)."""

    # ------------------------------------------------------------ policies, servers, mailboxes

    @_faultable
    async def get_policy(self, name: str) -> Stored[SyncPolicy] | None:
        row = self._policies.get(name)
        return None if row is None else Stored(codec.decode_policy(row.text), row.etag)

    @_faultable
    async def list_policies(self) -> list[Stored[SyncPolicy]]:
        return [Stored(codec.decode_policy(self._policies[k].text), self._policies[k].etag)
                for k in sorted(self._policies, key=keys.key)]

    @_faultable
    async def put_policy(self, policy: SyncPolicy, etag: str | None = None, *, force: bool = False) -> str:
        return _put(self._policies, policy.name, codec.encode_policy(policy), etag, force,
                    f"policy {policy.name!r}")

    @_faultable
    async def delete_policy(self, name: str, etag: str | None = None) -> None:
        _delete(self._policies, name, etag, f"policy {name!r}")

    @_faultable
    async def get_server(self, name: str) -> Stored[ServerConfig] | None:
        row = self._servers.get(name)
        return None if row is None else Stored(codec.decode_server(row.text), row.etag)

    @_faultable
    async def list_servers(self) -> list[Stored[ServerConfig]]:
        return [Stored(codec.decode_server(self._servers[k].text), self._servers[k].etag)
                for k in sorted(self._servers, key=keys.key)]

    @_faultable
    async def put_server(self, server: ServerConfig, etag: str | None = None, *, force: bool = False) -> str:
        return _put(self._servers, server.name, codec.encode_server(server), etag, force,
                    f"server {server.name!r}")

    @_faultable
    async def delete_server(self, name: str, etag: str | None = None) -> None:
        _delete(self._servers, name, etag, f"server {name!r}")

    @_faultable
    async def get_mailbox(self, email: str) -> Stored[Mailbox] | None:
        row = self._mailboxes.get(rules.mailbox_key(email))
        return None if row is None else Stored(codec.decode_mailbox(row.text), row.etag)

    @_faultable
    async def list_mailboxes(self, server: str | None = None) -> list[Stored[Mailbox]]:
        out = [Stored(codec.decode_mailbox(self._mailboxes[k].text), self._mailboxes[k].etag)
               for k in sorted(self._mailboxes, key=keys.key)]
        return [s for s in out if server is None or s.value.server == server]

    @_faultable
    async def put_mailbox(self, mailbox: Mailbox, etag: str | None = None, *, force: bool = False) -> str:
        return _put(self._mailboxes, rules.mailbox_key(mailbox.email), codec.encode_mailbox(mailbox),
                    etag, force, f"mailbox {mailbox.email!r}")

    @_faultable
    async def delete_mailbox(self, email: str, etag: str | None = None) -> None:
        _delete(self._mailboxes, rules.mailbox_key(email), etag, f"mailbox {email!r}")

    @_faultable
    async def get_mailbox_context(self, email: str) -> MailboxContext:
        return self._config().context(email)

    @_faultable
    async def list_config(self) -> ConfigSnapshot:
        return self._config()

    def _config(self) -> ConfigSnapshot:
        def stored(rows: dict[str, _Row], decode: Callable[[str], T]) -> tuple[Stored[T], ...]:
            return tuple(Stored(decode(rows[k].text), rows[k].etag) for k in sorted(rows, key=keys.key))

        return ConfigSnapshot(stored(self._policies, codec.decode_policy), stored(self._servers, codec.decode_server),
                              stored(self._mailboxes, codec.decode_mailbox))

    # ------------------------------------------------------------ links

    def _link_rows(self, mailbox: str, record_type: RecordType) -> tuple[dict[str, _Row], dict[str, str]]:
        part = (mailbox, record_type)
        return self._links.setdefault(part, {}), self._link_index.setdefault(part, {})

    @_faultable
    async def get_link_by_erp(self, mailbox: str, record_type: RecordType, erp_id: str) -> Link | None:
        rows, _ = self._link_rows(mailbox, record_type)
        row = rows.get(erp_id)
        return None if row is None else codec.decode_link(row.text, row.etag)

    @_faultable
    async def get_link_by_mailbox(self, mailbox: str, record_type: RecordType,
                                  mailbox_id: str) -> Link | None:
        rows, index = self._link_rows(mailbox, record_type)
        erp_id = index.get(mailbox_id)
        if erp_id is None:
            return None
        row = rows[erp_id]
        return codec.decode_link(row.text, row.etag)

    @_faultable
    async def get_links(self, mailbox: str, record_type: RecordType, side: Side,
                        ids: Sequence[str]) -> dict[str, Link]:
        rows, index = self._link_rows(mailbox, record_type)
        out = {}
        for item_id in ids:
            erp_id = item_id if side is Side.ERP else index.get(item_id)
            row = rows.get(erp_id) if erp_id is not None else None
            if row is not None:
                out[item_id] = codec.decode_link(row.text, row.etag)
        return out

    def _check_link(self, link: Link) -> None:
        """Raise what the Table store's transaction would raise for this link, change nothing."""
        rows, index = self._link_rows(link.mailbox, link.record_type)
        what = rules.link_label(link)
        if link.etag is None:
            if link.erp_id in rows or link.mailbox_id in index:
                raise AlreadyExists(f"{what} already exists; read it and pass its etag to replace it")
            return
        current = rows.get(link.erp_id)
        if current is None or current.etag != link.etag:
            raise ConcurrencyConflict(f"{what} changed since it was read (stale etag); read it again")
        old = codec.decode_link(current.text, current.etag)
        if old.mailbox_id != link.mailbox_id and link.mailbox_id in index:
            raise AlreadyExists(f"{what}: mailbox item is already linked to another ERP record")

    def _write_link(self, link: Link, text: str) -> Link:
        rows, index = self._link_rows(link.mailbox, link.record_type)
        current = rows.get(link.erp_id)
        if current is not None:
            index.pop(codec.decode_link(current.text, None).mailbox_id, None)
        etag = _etag()
        rows[link.erp_id] = _Row(text, etag)
        index[link.mailbox_id] = link.erp_id
        return dataclasses.replace(link, etag=etag)

    @_faultable
    async def put_link(self, link: Link) -> Link:
        text = rules.checked_link_text(link)
        self._check_link(link)
        return self._write_link(link, text)

    @_faultable
    async def put_links(self, links: Sequence[Link]) -> list[Link]:
        rules.check_link_batch(links)
        texts = [rules.checked_link_text(link) for link in links]
        for link in links:
            self._check_link(link)
        out = [self._write_link(link, text) for link, text in zip(links, texts, strict=True)]
        log.debug("stored %d links", len(out))
        return out

    @_faultable
    async def delete_link(self, link: Link) -> None:
        rows, index = self._link_rows(link.mailbox, link.record_type)
        current = rows.get(link.erp_id)
        if current is None:
            return
        if link.etag is not None and current.etag != link.etag:
            raise ConcurrencyConflict(f"{rules.link_label(link)} changed since it was read (stale etag)")
        del rows[link.erp_id]
        index.pop(codec.decode_link(current.text, None).mailbox_id, None)

    @_faultable
    async def list_links(self, mailbox: str, record_type: RecordType, cursor: str | None,
                         page_size: int) -> Page[Link]:
        rules.check_page_size(page_size, "page_size")
        rows, _ = self._link_rows(mailbox, record_type)
        after = rules.decode_cursor(cursor)
        keyed = ((keys.key(erp_id), erp_id) for erp_id in rows)
        # the next page + 1 in key order, without sorting every link of the mailbox
        chosen = heapq.nsmallest(page_size + 1, ((k, e) for k, e in keyed if after is None or k > after))
        page = [codec.decode_link(rows[e].text, rows[e].etag) for _, e in chosen[:page_size]]
        more = len(chosen) > page_size
        return Page(tuple(page), rules.encode_cursor(chosen[page_size - 1][0]) if more else None,
                    complete=not more)

    # ------------------------------------------------------------ cursors

    @_faultable
    async def get_cursor(self, mailbox: str, name: str) -> Stored[str] | None:
        book = await self._book(mailbox)
        value = book.values.get(name)
        return None if value is None or book.etag is None else Stored(value, book.etag)

    @_faultable
    async def put_cursor(self, mailbox: str, name: str, value: str, etag: str | None = None) -> str:
        rules.check_id(mailbox, "mailbox")
        book = await self._book(mailbox)
        values = cursors.changed(book, name, value, etag)
        if values is None and book.etag is not None:
            return book.etag
        return (await self._store_book(dataclasses.replace(book, values=values or {}))).etag or ""

    @_faultable
    async def delete_cursor(self, mailbox: str, name: str) -> None:
        book = await self._book(mailbox)
        values = cursors.changed(book, name, None)
        if values is not None:
            await self._store_book(dataclasses.replace(book, values=values))

    @_faultable
    async def get_cursors(self, mailbox: str) -> CursorBook:
        return await self._book(mailbox)

    @_faultable
    async def put_cursors(self, book: CursorBook) -> CursorBook:
        return await self._store_book(book)

    async def _book(self, mailbox: str) -> CursorBook:
        row = self._cursors.get(mailbox)
        if row is None:
            return CursorBook(mailbox)
        return CursorBook(mailbox, cursors.decode(row.text, "cursors"), row.etag)

    async def _store_book(self, book: CursorBook) -> CursorBook:
        etag = _put(self._cursors, book.mailbox, cursors.encode(book), book.etag, False, f"cursors of {book.mailbox}")
        return dataclasses.replace(book, values=dict(book.values), etag=etag)

    # ------------------------------------------------------------ intents

    @_faultable
    async def put_intent(self, intent: Intent) -> Intent:
        rows = self._intents.setdefault((intent.mailbox, intent.record_type), {})
        etag = _put(rows, intent.intent_id, codec.encode_intent(intent), intent.etag, False,
                    f"intent {intent.intent_id!r}")
        return dataclasses.replace(intent, etag=etag)

    @_faultable
    async def put_intents(self, intents: Sequence[Intent]) -> list[Intent]:
        rules.check_intent_batch(intents)
        if not intents:
            return []
        rows = self._intents.setdefault((intents[0].mailbox, intents[0].record_type), {})
        for intent in intents:
            if intent.intent_id in rows:
                raise AlreadyExists(f"intent {intent.intent_id!r} already exists; read it and pass its etag to "
                                    "replace it")
        texts = [codec.encode_intent(intent) for intent in intents]
        for intent, text in zip(intents, texts, strict=True):
            _put(rows, intent.intent_id, text, None, False, f"intent {intent.intent_id!r}")
        return list(intents)

    @_faultable
    async def delete_intents(self, intents: Sequence[Intent]) -> None:
        for intent in intents:
            _delete(self._intents.setdefault((intent.mailbox, intent.record_type), {}), intent.intent_id, None,
                    f"intent {intent.intent_id!r}")

    @_faultable
    async def delete_intent(self, intent: Intent) -> None:
        rows = self._intents.setdefault((intent.mailbox, intent.record_type), {})
        _delete(rows, intent.intent_id, intent.etag, f"intent {intent.intent_id!r}")

    @_faultable
    async def list_intents(self, mailbox: str, record_type: RecordType) -> list[Intent]:
        rows = self._intents.get((mailbox, record_type), {})
        return [codec.decode_intent(rows[k].text, rows[k].etag) for k in sorted(rows, key=keys.key)]

    @_faultable
    async def list_mailbox_intents(self, mailbox: str) -> list[Intent]:
        out: list[Intent] = []
        for record_type in sorted((t for m, t in self._intents if m == mailbox), key=lambda t: t.value):
            out += await self.list_intents(mailbox, record_type)
        return out

    @_faultable
    async def purge_intents(self, older_than: datetime) -> int:
        limit = codec.utc(older_than)
        purged = 0
        for rows in self._intents.values():
            for intent_id, row in list(rows.items()):
                if codec.decode_intent(row.text, None).created_at < limit:
                    del rows[intent_id]
                    purged += 1
        log.info("purged %d intents", purged)
        return purged

    # ------------------------------------------------------------ status

    @_faultable
    async def get_status(self, email: str) -> Stored[MailboxStatus] | None:
        row = self._status.get(rules.mailbox_key(email))
        return None if row is None else Stored(codec.decode_status(row.text), row.etag)

    @_faultable
    async def put_status(self, status: MailboxStatus, etag: str | None = None, *, force: bool = False) -> str:
        text = codec.encode_status(status)
        rules.check_text_size(text, "status")
        return _put(self._status, rules.mailbox_key(status.email), text, etag, force,
                    f"status of {status.email!r}")

    # ------------------------------------------------------------ log

    @_faultable
    async def append_log(self, email: str, entries: Sequence[LogEntry]) -> None:
        rows = self._log.setdefault(rules.mailbox_key(email), {})
        for position, entry in enumerate(entries):
            at = codec.utc(entry.at)
            rows[keys.log_row_key(at, position)] = _LogRow(
                int(entry.level), at, codec.clip_message(entry.message),
                None if entry.record_type is None else entry.record_type.value, at + self._retention)

    @_faultable
    async def list_log(self, email: str, min_level: LogLevel | None, limit: int,
                       cursor: str | None) -> Page[LogEntry]:
        rules.check_page_size(limit, "limit")
        rows = self._log.get(rules.mailbox_key(email), {})
        now = codec.utc(self._clock.now())
        after = rules.decode_cursor(cursor)
        chosen: list[str] = []
        for row_key in sorted(rows):
            row = rows[row_key]
            if after is not None and row_key <= after:
                continue
            if row.expires_at <= now or (min_level is not None and row.level < min_level):
                continue
            chosen.append(row_key)
            if len(chosen) > limit:
                break
        more = len(chosen) > limit
        page = [codec.log_entry(rows[k].level, rows[k].at, rows[k].message, rows[k].record_type)
                for k in chosen[:limit]]
        return Page(tuple(page), rules.encode_cursor(chosen[limit - 1]) if more else None, complete=not more)

    @_faultable
    async def clear_log(self, email: str) -> int:
        rows = self._log.pop(rules.mailbox_key(email), {})
        return len(rows)

    @_faultable
    async def purge_log(self, older_than: datetime) -> int:
        limit = codec.utc(older_than)
        now = codec.utc(self._clock.now())
        purged = 0
        for rows in self._log.values():
            for row_key, row in list(rows.items()):
                if row.at < limit or row.expires_at <= now:
                    del rows[row_key]
                    purged += 1
        log.info("purged %d log entries", purged)
        return purged

    # ------------------------------------------------------------ leases

    def _lease_until(self, key: str, owner: str, ttl_seconds: float) -> datetime:
        rules.check_id(key, "key")
        rules.check_id(owner, "owner")
        return codec.utc(self._clock.now()) + timedelta(seconds=rules.check_ttl(ttl_seconds))

    @_faultable
    async def acquire_lease(self, key: str, owner: str, ttl_seconds: float) -> bool:
        until = self._lease_until(key, owner, ttl_seconds)
        current = self._leases.get(key)
        now = codec.utc(self._clock.now())
        if current is not None and current.owner != owner and current.expires_at > now:
            return False
        self._leases[key] = _Lease(owner, until)
        return True

    @_faultable
    async def renew_lease(self, key: str, owner: str, ttl_seconds: float) -> bool:
        until = self._lease_until(key, owner, ttl_seconds)
        current = self._leases.get(key)
        if current is None or current.owner != owner:
            return False
        self._leases[key] = _Lease(owner, until)
        return True

    @_faultable
    async def release_lease(self, key: str, owner: str) -> None:
        current = self._leases.get(key)
        if current is not None and current.owner == owner:
            del self._leases[key]

    @_faultable
    async def purge_leases(self) -> int:
        now = codec.utc(self._clock.now())
        expired = [key for key, lease in self._leases.items() if lease.expires_at <= now]
        for key in expired:
            del self._leases[key]
        log.info("purged %d expired leases", len(expired))
        return len(expired)

    # ------------------------------------------------------------ documents

    @_faultable
    async def get_doc(self, kind: str, key: str) -> Stored[dict[str, Any]] | None:
        row = self._docs.get(kind, {}).get(key)
        return None if row is None else Stored(codec.decode_doc(row.text), row.etag)

    @_faultable
    async def put_doc(self, kind: str, key: str, value: dict[str, Any], etag: str | None = None,
                      *, force: bool = False) -> str:
        rules.check_id(key, "key")
        text = codec.encode_doc(value, kind)
        rules.check_text_size(text, f"doc.{kind}")
        return _put(self._docs.setdefault(kind, {}), key, text, etag, force, f"document {kind}/{key!r}")

    @_faultable
    async def delete_doc(self, kind: str, key: str) -> None:
        _delete(self._docs.get(kind, {}), key, None, f"document {kind}/{key!r}")

    @_faultable
    async def list_docs(self, kind: str, prefix: str = "") -> list[tuple[str, Stored[dict[str, Any]]]]:
        rows = self._docs.get(kind, {})
        return [(k, Stored(codec.decode_doc(rows[k].text), rows[k].etag))
                for k in sorted(rows, key=keys.key) if k.startswith(prefix)]


def _conforms(store: InMemoryStateStore) -> StateStore:
    """Type check only: the twin implements the whole StateStore protocol."""
    return store
