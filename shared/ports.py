"""Ports: the Protocols the engine and the functions need from the outside world.

Adapters implement them (``shared.graph``, ``shared.erp``, ``shared.state``); every adapter
has an in-memory twin and both pass one contract suite under ``tests/contract``.
All I/O ports are async. Envelopes carry side metadata (ids, versions, stamps) around the
pure domain records of :mod:`shared.domain.records`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from shared.domain.config import ContactFilter, Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import Attachment, EmailMessage, Record, RecordType
from shared.domain.status import LogEntry, LogLevel, MailboxStatus, RunSummary
from shared.errors import ExsyncError, ValidationFailed

R = TypeVar("R", bound=Record)
T = TypeVar("T")


class Side(StrEnum):
    ERP = "erp"
    MAILBOX = "mailbox"


class WriteKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SEND = "send"      # mailbox only: sendMail, the message lands in Sent Items
    CANCEL = "cancel"  # mailbox only: cancel an event (organizer), attendees are notified


SENT_ITEMS = "sentitems"
"""Well-known mailbox container name of Sent Items (``ensure_container(mailbox, EMAIL, SENT_ITEMS)``)."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The one wall clock of the app, in UTC (tests pass their own :class:`Clock`)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


# ---------------------------------------------------------------- envelopes


@dataclasses.dataclass(frozen=True, slots=True)
class Removed:
    """A deletion seen in a change listing (Graph ``@removed``, ERP push/reconciliation)."""

    id: str


@dataclasses.dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a change listing.

    ``cursor`` resumes the listing after this page. When ``complete`` is True the listing is
    exhausted and ``cursor`` is the cursor for the *next run* (a Graph delta link, an ERP
    watermark); persist it only after every change of the page is recorded.
    """

    items: tuple[T | Removed, ...]
    cursor: str | None
    complete: bool


@dataclasses.dataclass(frozen=True, slots=True)
class MailboxItem(Generic[R]):
    """A record as the mailbox holds it."""

    id: str                      # Graph immutable id
    etag: str                    # changeKey / @odata.etag, for If-Match
    modified_at: datetime
    record: R
    stamp: str | None = None     # ERP id stamped on the item (extended property / linkedResource)
    categories: tuple[str, ...] = ()
    stamp_known: bool = True     # False: listed without its stamp (``list_changes(stamps=False)``)
    conversation_id: str = ""    # a message's Graph conversationId (replies follow a filed conversation)


@dataclasses.dataclass(frozen=True, slots=True)
class ErpItem(Generic[R]):
    """A record as the ERP holds it."""

    id: str                      # ERP id (Acumatica NoteID)
    version: str                 # LastModifiedDateTime as ISO text
    modified_at: datetime
    record: R
    owner: str | None = None     # owning employee id
    workgroup: str | None = None
    contact_class: str | None = None
    related_contacts: tuple[str, ...] = ()  # ERP contact ids an activity is linked to
    origin: str | None = None    # idempotency key given at create (see ErpWrite.origin)


@dataclasses.dataclass(frozen=True, slots=True)
class AttachmentContent:
    meta: Attachment
    content: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class MailboxWrite:
    """One write to a mailbox. ``etag`` makes update/delete conditional (If-Match)."""

    kind: WriteKind
    record_type: RecordType
    container: str
    record: Record | None = None
    item_id: str | None = None
    etag: str | None = None
    stamp: str | None = None
    categories: tuple[str, ...] = ()
    files: tuple[AttachmentContent, ...] = ()
    web_page: str | None = None  # contact business home page (hyperlink to the ERP record)
    known_stamp: str | None = None  # the item's stamp as the caller knows it: no read-back after an update


@dataclasses.dataclass(frozen=True, slots=True)
class ErpWrite:
    """One write to the ERP. ``version`` makes update/delete conditional."""

    kind: WriteKind
    record_type: RecordType
    record: Record | None = None
    item_id: str | None = None
    version: str | None = None
    owner: str | None = None
    contact_class: str | None = None
    related_contacts: tuple[str, ...] = ()
    origin: str | None = None    # idempotency key, findable with ErpGateway.find_by_origin
    files: tuple[AttachmentContent, ...] = ()
    related_record: tuple[str, str] | None = None  # an e-mail's (kind, NoteID) instead of its contacts


W = TypeVar("W", MailboxWrite, ErpWrite)


@dataclasses.dataclass(frozen=True, slots=True)
class WriteResult(Generic[W]):
    """Outcome of one write: the item as written, or the error scoped to this write."""

    write: W
    item: MailboxItem[Any] | ErpItem[Any] | None = None
    error: ExsyncError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------- gateways


class MailboxGateway(Protocol):
    """A Microsoft 365 mailbox (Graph)."""

    async def ensure_container(self, mailbox: str, record_type: RecordType, name: str | None) -> str:
        """Id of the folder/list/calendar for ``name`` (None: the default one), created if missing."""
        ...

    async def ensure_category(self, mailbox: str, name: str, color: str) -> None:
        """Create the master category if the mailbox lacks it."""
        ...

    async def list_changes(self, mailbox: str, record_type: RecordType, container: str,
                           cursor: str | None, page_size: int, *, stamps: bool = True) -> Page[MailboxItem[Any]]:
        """One page of changes since ``cursor`` (None: everything). Raises SyncStateLost.

        ``stamps`` False: items whose stamp the listing does not carry come with ``stamp_known``
        False instead of being read again; the caller fills the ones it needs with ``fill_stamps``."""
        ...

    async def fill_stamps(self, mailbox: str, record_type: RecordType, container: str,
                          items: Sequence[MailboxItem[Any]]) -> list[MailboxItem[Any]]:
        """``items`` with their stamps read (batched), in order; ``stamp_known`` True on each."""
        ...

    async def get(self, mailbox: str, record_type: RecordType, container: str,
                  item_id: str) -> MailboxItem[Any] | None: ...

    async def find_by_stamp(self, mailbox: str, record_type: RecordType, container: str,
                            stamp: str) -> MailboxItem[Any] | None:
        """The item carrying this ERP id stamp, if any (resolves create intents after a crash)."""
        ...

    async def find_message(self, mailbox: str, internet_message_id: str) -> MailboxItem[Any] | None:
        """A message in any folder with this internetMessageId (e-mail de-duplication)."""
        ...

    async def existing_ids(self, mailbox: str, record_type: RecordType, container: str,
                           ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` (at most a page, ≤ the server's select batch size) name an item that
        exists in ``container``: exactly the ids for which ``get`` would return an item. An item
        deleted, or moved to another folder, is missing; the engine re-checks a missing id with
        ``get`` (and Sent Items for e-mail) before treating it as removed. Used to reconcile the
        links page by page after a full listing, so no whole folder is held in memory."""
        ...

    async def read_attachments(self, mailbox: str, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        """Attachments of a message no larger than ``max_bytes`` each."""
        ...

    async def apply(self, mailbox: str, writes: Sequence[MailboxWrite]) -> list[WriteResult[MailboxWrite]]:
        """Run writes (batched), one result per write in order; errors are per write."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class ErpScope:
    """Whose records a mailbox sees in the ERP, per record type:

    - CONTACT: ``contact_filter`` all -> every contact; owner -> Owner is ``employee_id``;
      workgroup -> Workgroup in ``workgroups``, plus the contacts the employee owns (those exsync
      imports), so an imported contact never leaves the scope at once (the gateway looks the
      employee's workgroups up when the tuple is empty). :func:`shared.scope.in_scope` is
      the executable form of these rules.
    - EMAIL: email activities owned by the employee or with ``email`` among from/to/cc/bcc.
    - TASK: tasks owned by the employee.
    - EVENT: events organized by ``email`` or with ``email`` among the attendees (so an event whose
      owner is not synced still reaches every synced attendee's calendar).
    """

    employee_id: str
    email: str
    workgroups: tuple[str, ...] = ()
    contact_filter: ContactFilter = ContactFilter.OWNER
    everyone: bool = False
    """The whole tenant (the ERP change feed's listing, :data:`TENANT_SCOPE`): every record is in scope."""


TENANT_SCOPE = ErpScope(employee_id="", email="", contact_filter=ContactFilter.ALL, everyone=True)
"""The scope of the tenant-wide ERP change feed (:mod:`shared.sync.feed`)."""


class ErpGateway(Protocol):
    """The ERP's CRM records (Acumatica first). No ERP-specific names cross this port."""

    async def list_changes(self, record_type: RecordType, scope: ErpScope, cursor: str | None,
                           page_size: int, removed: Sequence[str] = ()) -> Page[ErpItem[Any]]:
        """Records changed since ``cursor`` (a watermark; None: all) in scope, de-duplicated.

        ``removed``: ids the caller learned were deleted (the ERP's push notifications; its
        queries never show a deletion); the page lists them as ``Removed``. Give them to the
        first page of a listing only.
        """
        ...

    async def list_ids(self, record_type: RecordType, scope: ErpScope, cursor: str | None,
                       page_size: int) -> Page[str]:
        """Ids of every record in scope, paged."""
        ...

    async def get(self, record_type: RecordType, item_id: str) -> ErpItem[Any] | None: ...

    async def get_many(self, record_type: RecordType, ids: Sequence[str]) -> dict[str, ErpItem[Any]]:
        """``get`` for the ids of a page at once: the records that exist (in any scope), by the
        given id; a missing or deleted record is absent."""
        ...

    async def existing_ids(self, record_type: RecordType, scope: ErpScope, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` (at most a page) name a record that exists and is in ``scope``: the ids
        ``list_ids`` would list. A deleted record and one that left the scope are both missing; the
        engine tells them apart with ``get``. Used for the page-by-page deletion reconciliation."""
        ...

    async def find_by_origin(self, record_type: RecordType, origin: str) -> ErpItem[Any] | None:
        """The record created with this idempotency key, if any."""
        ...

    async def find_contact_by_email(self, email: str) -> ErpItem[Any] | None: ...

    async def find_contacts_by_email(self, emails: Sequence[str]) -> dict[str, ErpItem[Any]]:
        """``find_contact_by_email`` for the addresses of a page at once: the contact each address
        finds, keyed by the address stripped and lower-cased; an address that finds none is absent."""
        ...

    async def find_email_by_message_id(self, internet_message_id: str) -> ErpItem[Any] | None: ...

    async def read_attachments(self, record_type: RecordType, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]: ...

    async def apply(self, writes: Sequence[ErpWrite]) -> list[WriteResult[ErpWrite]]:
        """One result per write, in order. Writes may run concurrently, so a batch holds no two
        writes that depend on each other; an update or delete with a ``version`` fails with
        ConcurrencyConflict, and changes nothing, when the record changed since that version."""
        ...

    async def aclose(self) -> None:
        """Release sessions (Acumatica: log out, freeing the API-user licence)."""
        ...


# ---------------------------------------------------------------- state


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    """What exsync knows of one synced pair. ``etag`` is the state row's own version."""

    mailbox: str
    record_type: RecordType
    erp_id: str
    mailbox_id: str
    erp_version: str
    mailbox_version: str
    erp_hash: str
    mailbox_hash: str
    base: dict[str, Any] = dataclasses.field(default_factory=dict)  # normalized fields at last sync
    synced_at: datetime | None = None
    etag: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Intent:
    """A create about to happen; resolved after a crash by looking ``stamp`` up on ``target``."""

    mailbox: str
    record_type: RecordType
    intent_id: str
    target: Side
    source_id: str               # id on the other side
    stamp: str                   # ERP id stamped on a mailbox item, or ErpWrite.origin
    created_at: datetime
    etag: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Stored(Generic[T]):
    """A stored value with its row ETag for optimistic concurrency."""

    value: T
    etag: str


@dataclasses.dataclass(frozen=True, slots=True)
class MailboxContext:
    """A mailbox with its server and the policy it names (its own, else its server's default),
    as stored, etags kept. None where a row is missing: all three when the mailbox is; the policy
    also when the mailbox names none and its server is missing. The built-in ``default`` policy is
    not filled in here (that is :mod:`shared.admin.lookup`'s rule)."""

    mailbox: Stored[Mailbox] | None
    server: Stored[ServerConfig] | None = None
    policy: Stored[SyncPolicy] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """Every policy, server and mailbox, read together (each in the order its ``list_*`` gives)."""

    policies: tuple[Stored[SyncPolicy], ...] = ()
    servers: tuple[Stored[ServerConfig], ...] = ()
    mailboxes: tuple[Stored[Mailbox], ...] = ()

    def context(self, email: str) -> MailboxContext:
        """The :class:`MailboxContext` of ``email`` (case-insensitive) as this snapshot has it."""
        wanted = email.strip().lower()
        mailbox = next((m for m in self.mailboxes if m.value.email == wanted), None)
        if mailbox is None:
            return MailboxContext(None)
        server = next((s for s in self.servers if s.value.name == mailbox.value.server), None)
        name = mailbox.value.policy or (server.value.default_policy if server is not None else "")
        policy = next((p for p in self.policies if name and p.value.name == name), None)
        return MailboxContext(mailbox, server, policy)


class ConfigStore(Protocol):
    """Policies, servers and mailboxes. ``etag=None`` on put means create-only.

    A tenant has a handful of policies and servers, so the two whole-configuration reads below
    return all of them: each is one request on Table Storage."""

    async def get_policy(self, name: str) -> Stored[SyncPolicy] | None: ...
    async def list_policies(self) -> list[Stored[SyncPolicy]]: ...
    async def put_policy(self, policy: SyncPolicy, etag: str | None = None, *, force: bool = False) -> str: ...
    async def delete_policy(self, name: str, etag: str | None = None) -> None: ...

    async def get_server(self, name: str) -> Stored[ServerConfig] | None: ...
    async def list_servers(self) -> list[Stored[ServerConfig]]: ...
    async def put_server(self, server: ServerConfig, etag: str | None = None, *, force: bool = False) -> str: ...
    async def delete_server(self, name: str, etag: str | None = None) -> None: ...

    async def get_mailbox(self, email: str) -> Stored[Mailbox] | None: ...
    async def list_mailboxes(self, server: str | None = None) -> list[Stored[Mailbox]]: ...
    async def put_mailbox(self, mailbox: Mailbox, etag: str | None = None, *, force: bool = False) -> str: ...
    async def delete_mailbox(self, email: str, etag: str | None = None) -> None: ...

    async def get_mailbox_context(self, email: str) -> MailboxContext:
        """The mailbox (case-insensitive address), its server and its policy in one read."""
        ...

    async def list_config(self) -> ConfigSnapshot:
        """Every policy, server and mailbox in one read."""
        ...


class LinkStore(Protocol):
    async def get_link_by_erp(self, mailbox: str, record_type: RecordType, erp_id: str) -> Link | None: ...
    async def get_link_by_mailbox(self, mailbox: str, record_type: RecordType,
                                  mailbox_id: str) -> Link | None: ...
    async def get_links(self, mailbox: str, record_type: RecordType, side: Side,
                        ids: Sequence[str]) -> dict[str, Link]:
        """The links of a page of ``ids`` (ERP ids or mailbox ids, per ``side``) in a few reads,
        keyed by the id given; an id without a link is absent."""
        ...
    async def put_link(self, link: Link) -> Link:
        """Insert (``link.etag`` None) or conditionally replace; returns the link with its new etag."""
        ...
    async def put_links(self, links: Sequence[Link]) -> list[Link]:
        """Many links of one mailbox and type, in transactions of ≤ 100 operations."""
        ...
    async def delete_link(self, link: Link) -> None: ...
    async def list_links(self, mailbox: str, record_type: RecordType, cursor: str | None,
                         page_size: int) -> Page[Link]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class CursorBook:
    """Every cursor of one mailbox, stored as one entity: read once per run, written only when a
    value changed. ``etag`` None: nothing stored yet (a put creates the book)."""

    mailbox: str
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    etag: str | None = None


class CursorStore(Protocol):
    """Delta tokens, ERP watermarks and per-type export/import dates, by name per mailbox.

    All cursors of a mailbox live in one :class:`CursorBook`; the by-name methods read or change
    one value of it (``put_cursor``'s etag is the book's)."""

    async def get_cursor(self, mailbox: str, name: str) -> Stored[str] | None: ...
    async def put_cursor(self, mailbox: str, name: str, value: str, etag: str | None = None) -> str: ...
    async def delete_cursor(self, mailbox: str, name: str) -> None: ...

    async def get_cursors(self, mailbox: str) -> CursorBook:
        """The mailbox's book in one read (empty, etag None, when none is stored)."""
        ...

    async def put_cursors(self, book: CursorBook) -> CursorBook:
        """Store ``book.values`` in one write, conditional on ``book.etag`` (None: create);
        ConcurrencyConflict when the book changed since it was read. Returns it with its new etag."""
        ...


class IntentStore(Protocol):
    async def put_intent(self, intent: Intent) -> Intent: ...
    async def delete_intent(self, intent: Intent) -> None: ...
    async def put_intents(self, intents: Sequence[Intent]) -> list[Intent]:
        """Create many intents of one mailbox and type together (transactions of ≤ 100 rows):
        all of them or, on an error, none of a transaction. An intent is written once and deleted
        once, so the returned intents carry no etag (``delete_intents`` needs none)."""
        ...
    async def delete_intents(self, intents: Sequence[Intent]) -> None:
        """Delete many intents of one mailbox and type (transactions of ≤ 100 rows); missing ones are fine."""
        ...
    async def list_intents(self, mailbox: str, record_type: RecordType) -> list[Intent]: ...
    async def list_mailbox_intents(self, mailbox: str) -> list[Intent]:
        """The open intents of every record type of ``mailbox`` in one read (usually none)."""
        ...
    async def purge_intents(self, older_than: datetime) -> int: ...


class StatusStore(Protocol):
    async def get_status(self, email: str) -> Stored[MailboxStatus] | None: ...
    async def put_status(self, status: MailboxStatus, etag: str | None = None, *, force: bool = False) -> str: ...


class LogStore(Protocol):
    async def append_log(self, email: str, entries: Sequence[LogEntry]) -> None: ...
    async def list_log(self, email: str, min_level: LogLevel | None, limit: int,
                       cursor: str | None) -> Page[LogEntry]:
        """Newest first."""
        ...
    async def clear_log(self, email: str) -> int: ...
    async def purge_log(self, older_than: datetime) -> int: ...


class LeaseStore(Protocol):
    async def acquire_lease(self, key: str, owner: str, ttl_seconds: float) -> bool:
        """Take the lease if free or expired; False if another owner holds it."""
        ...
    async def renew_lease(self, key: str, owner: str, ttl_seconds: float) -> bool: ...
    async def release_lease(self, key: str, owner: str) -> None: ...
    async def purge_leases(self) -> int:
        """Delete leases that have expired (a lease renewed meanwhile is kept); returns how many."""
        ...


class DocumentStore(Protocol):
    """Small JSON documents by (kind, key): subscriptions, alert state, run records, …"""

    async def get_doc(self, kind: str, key: str) -> Stored[dict[str, Any]] | None: ...
    async def put_doc(self, kind: str, key: str, value: dict[str, Any], etag: str | None = None,
                      *, force: bool = False) -> str: ...
    async def delete_doc(self, kind: str, key: str) -> None: ...
    async def list_docs(self, kind: str, prefix: str = "") -> list[tuple[str, Stored[dict[str, Any]]]]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class RoutedChange:
    """An ERP change the tenant feed routed to one mailbox, kept until that mailbox's run recorded it.

    ``version`` is the ERP version the feed listed (a newer listing of the same record replaces the
    row); ``etag`` is the row's own version as :meth:`FeedStore.list_routed` read it.
    """

    mailbox: str
    record_type: RecordType
    erp_id: str
    version: str
    etag: str | None = None


class FeedStore(Protocol):
    """The tenant-wide ERP change feed (:mod:`shared.sync.feed`): one watermark per record type for
    the whole tenant and the changes routed to each mailbox, kept until its run recorded them."""

    async def get_feed_cursor(self, record_type: RecordType) -> Stored[str] | None: ...

    async def list_feed_cursors(self) -> dict[RecordType, Stored[str]]:
        """Every record type's watermark in one read."""
        ...

    async def put_feed_cursor(self, record_type: RecordType, value: str, etag: str | None = None) -> str:
        """Create-only when ``etag`` is None, else conditional (ConcurrencyConflict: another reader won)."""
        ...

    async def put_routed(self, changes: Sequence[RoutedChange]) -> None:
        """Upsert (a newer version replaces an older one), ≤100 rows per mailbox and type per transaction."""
        ...

    async def list_routed(self, mailbox: str, record_type: RecordType, limit: int,
                          after: str | None = None) -> list[RoutedChange]:
        """At most ``limit`` changes routed to the mailbox for the type, in key order of their ERP
        ids, starting after the ERP id ``after`` (the last of the previous page)."""
        ...

    async def list_mailbox_routed(self, mailbox: str, limit: int) -> list[RoutedChange]:
        """At most ``limit`` changes routed to the mailbox, every type in one query (type, then id
        order): a run learns at once which types have nothing waiting."""
        ...

    async def delete_routed(self, changes: Sequence[RoutedChange]) -> None:
        """Drop these changes, each only while its row is unchanged (a newer routed version stays)."""
        ...


class StateStore(ConfigStore, LinkStore, CursorStore, IntentStore, StatusStore, LogStore, LeaseStore,
                 DocumentStore, FeedStore, Protocol):
    """Everything exsync persists (Azure Table Storage in production)."""


# ---------------------------------------------------------------- the engine


@dataclasses.dataclass(frozen=True, slots=True)
class PushRemovals:
    """ERP deletions learned from push notifications, per record type (parsed once at intake).

    Acumatica's queries never show a deletion; its pushes do. The worker hands the removals
    stored for a mailbox to the engine, which treats each id as ``Removed`` in that type's ERP pass.
    """

    ids: Mapping[RecordType, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def of(self, record_type: RecordType) -> tuple[str, ...]:
        return self.ids.get(record_type, ())

    def __bool__(self) -> bool:
        return any(self.ids.values())


Progress = Callable[[str, int], None]
"""The engine's progress report: ``("<type>.<erp|mailbox>", items done in that pass)``."""


@dataclasses.dataclass(frozen=True, slots=True)
class SyncJob:
    """One engine run: a mailbox with its server and policy, the gateways and what to sync.

    ``type_saved`` is called after a record type's ERP cursor is saved (its push removals are
    then recorded and may be acknowledged); ``progress`` after every page.
    """

    mailbox: Mailbox
    server: ServerConfig
    policy: SyncPolicy
    mailbox_gateway: MailboxGateway
    erp_gateway: ErpGateway
    state: StateStore
    clock: Clock
    run_id: str
    record_types: tuple[RecordType, ...] | None = None
    removals: PushRemovals = dataclasses.field(default_factory=PushRemovals)
    progress: Progress | None = None
    type_saved: Callable[[RecordType], Awaitable[None]] | None = None
    status: MailboxStatus | None = None
    """The mailbox status as the caller just read or wrote it (None: the engine reads it)."""
    feed: bool = False
    """The ERP side follows the tenant change feed (:mod:`shared.sync.feed`): once a type's own
    listing handed over, the run consumes the changes routed to the mailbox instead of listing."""


@dataclasses.dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What an engine run reports; the worker turns it into the mailbox status (its only writer).

    ``export_dates`` / ``import_dates``: the record types whose ERP / mailbox pass completed, with
    when; ``warnings``: what the status warning should say (empty: keep the current warning).
    """

    summary: RunSummary
    export_dates: Mapping[RecordType, datetime] = dataclasses.field(default_factory=dict)
    import_dates: Mapping[RecordType, datetime] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()


class SyncEngine(Protocol):
    """The engine as the worker sees it (:func:`shared.sync.run.sync`)."""

    async def __call__(self, job: SyncJob) -> SyncOutcome: ...


# ---------------------------------------------------------------- the sync queue


@dataclasses.dataclass(frozen=True, slots=True)
class SyncRequest:
    """One mailbox to sync. ``reason``: schedule | manual | graph | erp | erp-feed | lifecycle."""

    mailbox: str
    run_id: str
    reason: str = "schedule"
    record_types: tuple[RecordType, ...] | None = None
    deferrals: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox, "run_id": self.run_id, "reason": self.reason,
            "record_types": None if self.record_types is None else [t.value for t in self.record_types],
            "deferrals": self.deferrals,
        }

    @classmethod
    def from_json(cls, data: Any) -> SyncRequest:
        if not isinstance(data, dict) or not isinstance(data.get("mailbox"), str):
            raise ValidationFailed({"mailbox": "queue message must be a JSON object with a mailbox"})
        types = data.get("record_types")
        try:
            parsed = None if types is None else tuple(RecordType(t) for t in types)
        except (ValueError, TypeError) as exc:
            raise ValidationFailed({"record_types": "use contact, email, task or event"}) from exc
        return cls(mailbox=data["mailbox"].lower(), run_id=str(data.get("run_id") or ""),
                   reason=str(data.get("reason") or "schedule"), record_types=parsed,
                   deferrals=int(data.get("deferrals") or 0))

    def encode(self) -> str:
        """Base64 text of the JSON body (the queue trigger's ``messageEncoding: base64``)."""
        return base64.b64encode(json.dumps(self.to_json()).encode()).decode("ascii")

    @classmethod
    def decode(cls, body: bytes | str) -> SyncRequest:
        """Parse a message body, base64 or (already decoded by the host) plain JSON."""
        raw = body.encode() if isinstance(body, str) else body
        text = raw.strip()
        if not text.startswith(b"{"):
            try:
                text = base64.b64decode(text, validate=True)
            except ValueError as exc:
                raise ValidationFailed({"body": "queue message is neither JSON nor base64 JSON"}) from exc
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValidationFailed({"body": "queue message is not valid JSON"}) from exc


class SyncQueue(Protocol):
    """Where sync requests go; ``delay_seconds`` hides the message that long."""

    async def send(self, request: SyncRequest, delay_seconds: int = 0) -> None: ...

    async def aclose(self) -> None: ...


# ---------------------------------------------------------------- transactional mail (PRODUCT §8)


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingMail:
    """An e-mail the ERP queued for a system account (Acumatica: MailStatus Pending Processing).

    ``id`` is the ERP NoteID (the stamp); ``parent_id`` the parent activity (the e-mail it answers);
    ``related`` (kind, NoteID) the record it belongs to; ``owner`` the employee who wrote it (None:
    the ERP generated it from a template); ``file_sizes`` the size of each attached file."""

    id: str
    account_id: int
    status: str
    subject: str
    body: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    parent_id: str | None = None
    related: tuple[str, str] | None = None
    owner: str | None = None
    file_sizes: tuple[int, ...] = ()
    created_at: datetime | None = None


class OutboxGateway(Protocol):
    """The ERP's queue of outgoing e-mail (transactional mail sent through Graph)."""

    async def pending(self, account_id: int, limit: int) -> list[OutgoingMail]:
        """E-mails of this system account waiting to be sent, oldest first."""
        ...

    async def get_outgoing(self, mail_id: str) -> OutgoingMail | None: ...

    async def parent_message_id(self, mail_id: str) -> str | None:
        """The internetMessageId of an incoming e-mail filed by exsync (None: not one of those)."""
        ...

    async def read_files(self, mail_id: str) -> tuple[AttachmentContent, ...]: ...

    async def mark_processed(self, mail_id: str) -> None:
        """Sent (the message is in Sent Items)."""
        ...

    async def mark_failed(self, mail_id: str, reason: str) -> None:
        """Not sent, with the reason shown to the ERP's users."""
        ...

    async def processed_since(self, account_id: int, since: datetime) -> list[str]:
        """Ids of this account's e-mails marked processed since ``since`` (by anyone)."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to send from a system mailbox, stamped with the ERP id.

    ``reply_to`` is the Graph id of the received message to answer with createReply (Exchange sets
    In-Reply-To/References); ``headers`` are sent as written: with ``mime`` True every header is
    allowed (Auto-Submitted, In-Reply-To), otherwise only ``X-`` headers."""

    stamp: str
    subject: str
    body: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: str | None = None
    mime: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    files: tuple[AttachmentContent, ...] = ()


class MailSender(Protocol):
    """Sending from a system mailbox through Graph, findable afterwards by the stamp."""

    async def send(self, mailbox: str, message: OutboundMessage) -> None:
        """Send (a draft is created, stamped, given its attachments — inline up to 3 MB, through an
        upload session above — and sent). Graph's 202 means accepted, not yet in Sent Items."""
        ...

    async def find_sent(self, mailbox: str, stamp: str) -> str | None:
        """The id of the message in Sent Items carrying ``stamp``."""
        ...

    async def discard_drafts(self, mailbox: str, stamp: str) -> int:
        """Delete unsent drafts carrying ``stamp`` (left by a crash before the send); how many."""
        ...

    async def find_received(self, mailbox: str, internet_message_id: str) -> str | None:
        """The Graph id of a received message with this internetMessageId (to reply to it)."""
        ...


# ---------------------------------------------------------------- system mailboxes (PRODUCT §7)


@dataclasses.dataclass(frozen=True, slots=True)
class CrmRecord:
    """A CRM record: a case, lead or contact as the system-mailbox processing sees it, and the
    records around a mail the Outlook add-in shows (also employees, accounts, opportunities).

    ``kind``: "case" | "lead" | "contact" | "employee" | "account" | "opportunity"; ``id`` the
    ERP NoteID; ``number`` the key users see (CaseID, LeadID, ContactID, …); ``contact`` and
    ``account`` the ContactID and BusinessAccountID a record belongs to."""

    kind: str
    id: str
    number: str
    closed: bool = False
    email: str = ""
    origin: str | None = None
    title: str = ""
    status: str = ""
    contact: str = ""
    account: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class InboundEmail:
    """An incoming e-mail to file in the ERP. ``related`` is (kind, NoteID) or None (unassigned);
    ``origin`` is the idempotency key; ``method`` the threading method that matched."""

    subject: str
    body: str
    from_address: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    sent_at: datetime | None
    internet_message_id: str
    origin: str
    method: str
    related: tuple[str, str] | None = None
    owner: str | None = None
    workgroup: str | None = None
    files: tuple[AttachmentContent, ...] = ()


class CrmGateway(Protocol):
    """Cases, leads, contacts and incoming e-mail in the ERP, for system mailboxes.

    Creates carry an ``origin`` (idempotency key) findable with :meth:`find_by_origin`, so a
    write whose outcome a crash hid is found instead of repeated."""

    async def find_contact(self, email: str) -> CrmRecord | None: ...

    async def find_employee(self, email: str) -> str | None:
        """The EmployeeID of the employee with this address, if any."""
        ...

    async def create_contact(self, email: str, name: str, *, origin: str, owner: str | None) -> CrmRecord: ...

    async def find_case(self, number: str) -> CrmRecord | None:
        """The case with this CaseID (the subject tag's id)."""
        ...

    async def get_record(self, kind: str, record_id: str) -> CrmRecord | None: ...

    async def create_case(self, *, subject: str, description: str, case_class: str, contact: CrmRecord | None,
                          owner: str | None, workgroup: str | None, origin: str) -> CrmRecord: ...

    async def create_lead(self, *, email: str, name: str, lead_class: str | None, owner: str | None,
                          workgroup: str | None, origin: str) -> CrmRecord: ...

    async def reopen_case(self, record_id: str) -> None: ...

    async def find_by_origin(self, kind: str, origin: str) -> CrmRecord | None:
        """A case / lead / contact / "email" created with this idempotency key."""
        ...

    async def create_email(self, email: InboundEmail) -> str:
        """File the e-mail (with its files); its NoteID."""
        ...

    # the Outlook add-in

    async def records_for(self, addresses: Sequence[str]) -> list[CrmRecord]:
        """Contacts, leads and employees of ``addresses``, the contacts' business accounts and their
        open cases and opportunities (a fixed number of requests, whatever the number of addresses)."""
        ...

    async def email_targets(self, email_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(kind, NoteID) of the records the given Email activities are related to."""
        ...

    async def file_email(self, email: EmailMessage, related: tuple[str, str], *, owner: str | None, origin: str,
                         files: Sequence[AttachmentContent] = ()) -> tuple[str, bool]:
        """The Email activity of ``email`` related to (kind, NoteID); (its NoteID, created). A second
        filing with the same ``origin`` finds the first instead of creating another."""
        ...

    async def create_record(self, kind: str, fields: Mapping[str, Any], *, owner: str | None,
                            origin: str) -> tuple[CrmRecord, bool]:
        """A new contact / lead / case / opportunity from plain field values, or the one this
        ``origin`` already created; (record, created)."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class InboxMessage:
    """A message in a system mailbox's Inbox, with its internet headers (lower-case names)."""

    id: str
    internet_message_id: str
    conversation_id: str
    subject: str
    sender: str
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    body: str
    received_at: datetime | None
    headers: dict[str, str]
    stamp: str | None = None          # the extended property exsync sets after processing
    has_attachments: bool = False


class SystemMailGateway(Protocol):
    """The Inbox of a system mailbox and sending from it (Graph application permissions)."""

    async def inbox_changes(self, mailbox: str, cursor: str | None, page_size: int) -> Page[InboxMessage]:
        """New and changed Inbox messages since ``cursor`` (a delta link; None: from now back)."""
        ...

    async def recent(self, mailbox: str, count: int) -> list[InboxMessage]:
        """The newest ``count`` Inbox messages (for the dry run)."""
        ...

    async def get_message(self, mailbox: str, message_id: str) -> InboxMessage | None: ...

    async def read_attachments(self, mailbox: str, message_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]: ...

    async def stamp(self, mailbox: str, message_id: str, value: str) -> None:
        """Mark the message processed (the extended property the sync engine stamps)."""
        ...

    async def send_mime(self, mailbox: str, mime: bytes) -> None:
        """Send an RFC 5322 message as the mailbox (every header kept)."""
        ...

    async def after_processing(self, mailbox: str, message_id: str, action: str, folder: str | None) -> None:
        """``mark_read``, ``move`` (to ``folder``), ``delete`` or ``keep``."""
        ...

    async def check(self, mailbox: str) -> list[dict[str, Any]]:
        """Findings of the "Test" action: the mailbox exists, its Inbox is readable, a draft can be
        written (what RBAC for Applications scopes)."""
        ...
