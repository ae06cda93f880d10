"""In-memory twin of :class:`shared.ports.MailboxGateway` (a Microsoft 365 mailbox).

Behaves like Graph where the engine can tell the difference: ids are opaque, every write
changes the etag (changeKey), update/delete with a stale etag fails with ConcurrencyConflict in
that write's result, delta listings are cursor-paged, carry ``Removed`` entries, may replay and
can be invalidated (SyncStateLost). SEND puts the message into the well-known ``sentitems``
folder (the result has no item, like ``sendMail``'s 202); CANCEL (organizer only) removes the
event, as Graph's ``cancel`` does.

Test helpers (``user_*``, ``touch``, ``invalidate_cursors``, ``replay_next``, ``fail_call``,
``fail_write``, ``items``) edit the mailbox "behind exsync's back", inject faults on the k-th
call or write, and inspect contents.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.records import Contact, EmailMessage, Event, Record, RecordType
from shared.errors import (
    ConcurrencyConflict,
    ExsyncError,
    NotFound,
    RemoteError,
    SyncStateLost,
    ValidationFailed,
)
from shared.faults import CallFaults
from shared.ports import (
    SENT_ITEMS,
    AttachmentContent,
    Clock,
    MailboxItem,
    MailboxWrite,
    Page,
    Removed,
    WriteKind,
    WriteResult,
)

logger = logging.getLogger(__name__)



class TickingClock:
    """A deterministic clock that advances one second each time it is read."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now

    def advance(self, **delta: float) -> None:
        """Jump ahead (``hours=25``) without a read."""
        self._now += timedelta(**delta)


@dataclasses.dataclass(slots=True)
class _Item:
    mailbox: str
    record_type: RecordType
    container: str
    record: Record
    etag: str
    modified_at: datetime
    seq: int
    stamp: str | None = None
    categories: tuple[str, ...] = ()
    files: tuple[AttachmentContent, ...] = ()
    web_page: str | None = None
    conversation_id: str = ""     # messages: Graph's conversationId (a new message starts one)

    def view(self, item_id: str) -> MailboxItem[Any]:
        record = self.record
        if self.web_page is not None and isinstance(record, Contact):   # Graph: businessHomePage
            record = dataclasses.replace(record, web_page=self.web_page)
        return MailboxItem(id=item_id, etag=self.etag, modified_at=self.modified_at, record=record,
                           stamp=self.stamp or None, categories=self.categories,
                           conversation_id=self.conversation_id)


@dataclasses.dataclass(slots=True)
class _Tombstone:
    mailbox: str
    container: str
    seq: int


class InMemoryMailboxGateway:
    """Mailboxes held in dictionaries; see the module docstring for the behaviour it mimics."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or TickingClock()
        self._containers: dict[tuple[str, RecordType, str], str] = {}
        self._container_types: dict[str, RecordType] = {}
        self._items: dict[str, _Item] = {}
        self._tombstones: dict[str, _Tombstone] = {}
        self._epochs: dict[tuple[str, str], int] = {}
        self._replay: set[tuple[str, str]] = set()
        self._categories: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._etags = itertools.count(1)
        self.faults = CallFaults()
        self.applied: list[tuple[str, MailboxWrite]] = []  # every successful write, in order

    # ------------------------------------------------------------ port

    async def ensure_container(self, mailbox: str, record_type: RecordType, name: str | None) -> str:
        self.faults.call()
        return self._container(mailbox, record_type, name)

    async def ensure_category(self, mailbox: str, name: str, color: str) -> None:
        self.faults.call()
        self._categories.setdefault(mailbox, {}).setdefault(name, color)

    async def list_changes(self, mailbox: str, record_type: RecordType, container: str,
                           cursor: str | None, page_size: int, *, stamps: bool = True) -> Page[MailboxItem[Any]]:
        """The twin's listing always carries stamps (``stamps`` changes nothing here)."""
        self.faults.call()
        key = (mailbox, container)
        epoch = self._epochs.get(key, 0)
        full, after = True, 0
        if cursor is not None:
            kind, cursor_epoch, seq = _parse_cursor(cursor)
            if cursor_epoch != epoch:
                raise SyncStateLost("delta token expired", status=410, code="syncStateNotFound")
            full, after = kind == "F", seq
            if key in self._replay and not full:
                self._replay.discard(key)
                after = max(0, after - page_size)
        entries = self._changes_after(mailbox, container, after, include_removed=not full)
        page = entries[:page_size]
        more = len(entries) > page_size
        last = page[-1][0] if page else after
        kind = "F" if full and more else "D"
        next_cursor = f"{kind}:{epoch}:{last if more else max(last, self._peek_seq())}"
        items: tuple[MailboxItem[Any] | Removed, ...] = tuple(entry for _, entry in page)
        return Page(items=items, cursor=next_cursor, complete=not more)

    async def get(self, mailbox: str, record_type: RecordType, container: str,
                  item_id: str) -> MailboxItem[Any] | None:
        self.faults.call()
        item = self._items.get(item_id)
        if item is None or item.mailbox != mailbox or item.container != container:
            return None
        return item.view(item_id)

    async def fill_stamps(self, mailbox: str, record_type: RecordType, container: str,
                          items: Sequence[MailboxItem[Any]]) -> list[MailboxItem[Any]]:
        self.faults.call()
        out = []
        for item in items:
            held = self._items.get(item.id)
            stamp = held.view(item.id).stamp if held is not None else item.stamp
            out.append(dataclasses.replace(item, stamp=stamp, stamp_known=True))
        return out

    async def existing_ids(self, mailbox: str, record_type: RecordType, container: str,
                           ids: Sequence[str]) -> set[str]:
        self.faults.call()
        return {item_id for item_id in ids if (item := self._items.get(item_id)) is not None
                and item.mailbox == mailbox and item.container == container}

    async def find_by_stamp(self, mailbox: str, record_type: RecordType, container: str,
                            stamp: str) -> MailboxItem[Any] | None:
        self.faults.call()
        for item_id, item in sorted(self._items.items(), key=lambda kv: kv[1].seq):
            if item.mailbox == mailbox and item.container == container and item.stamp == stamp:
                return item.view(item_id)
        return None

    async def find_message(self, mailbox: str, internet_message_id: str) -> MailboxItem[Any] | None:
        self.faults.call()
        wanted = internet_message_id.strip()
        for item_id, item in sorted(self._items.items(), key=lambda kv: kv[1].seq):
            record = item.record
            if (item.mailbox == mailbox and isinstance(record, EmailMessage) and wanted
                    and record.internet_message_id.strip() == wanted):
                return item.view(item_id)
        return None

    async def read_attachments(self, mailbox: str, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        self.faults.call()
        item = self._items.get(item_id)
        if item is None or item.mailbox != mailbox:
            raise NotFound(f"message {item_id} not found")
        return tuple(f for f in item.files if len(f.content) <= max_bytes)

    async def apply(self, mailbox: str, writes: Sequence[MailboxWrite]) -> list[WriteResult[MailboxWrite]]:
        def one(write: MailboxWrite) -> MailboxItem[Any] | None:
            item = self._apply_one(mailbox, write)
            self.applied.append((mailbox, write))
            return item

        return self.faults.apply_each(writes, one)

    # ------------------------------------------------------------ writes

    def _apply_one(self, mailbox: str, write: MailboxWrite) -> MailboxItem[Any] | None:
        if write.kind is WriteKind.CREATE:
            return self._create(mailbox, write, write.container)
        if write.kind is WriteKind.SEND:
            if not isinstance(write.record, EmailMessage):
                raise ValidationFailed({"record": "SEND needs an EmailMessage"})
            record = dataclasses.replace(write.record, incoming=False)
            sent = dataclasses.replace(write, record=record)
            self._create(mailbox, sent, self._container(mailbox, RecordType.EMAIL, SENT_ITEMS))
            return None
        item_id = write.item_id or ""
        item = self._live(mailbox, write.record_type, item_id)
        if write.etag is not None and write.etag != item.etag:
            raise ConcurrencyConflict(f"etag mismatch on {item_id}")
        if write.kind is WriteKind.UPDATE:
            self._update(item, record=write.record, categories=write.categories or None,
                         stamp=write.stamp, web_page=write.web_page)
            return item.view(item_id)
        if write.kind is WriteKind.CANCEL and not _organized_by(item.record, mailbox):
            raise RemoteError("only the organizer can cancel an event", status=400, code="ErrorAccessDenied")
        self._remove(item_id)
        return None

    def _create(self, mailbox: str, write: MailboxWrite, container: str,
                conversation_id: str = "") -> MailboxItem[Any]:
        if write.record is None:
            raise ValidationFailed({"record": "a create needs a record"})
        if self._container_types.get(container) is not write.record_type:
            raise NotFound(f"container {container} not found for {write.record_type}")
        record = write.record
        if isinstance(record, Event) and not record.organizer:   # Graph: the mailbox owner organizes
            record = dataclasses.replace(record, organizer=mailbox)
        if isinstance(record, EmailMessage) and not record.internet_message_id:
            record = dataclasses.replace(record, internet_message_id=f"<m{next(self._ids)}@twin.example>")
        item_id = self._new_id()
        conversation = (conversation_id or f"conv-{next(self._ids)}") if isinstance(record, EmailMessage) else ""
        self._items[item_id] = _Item(mailbox, write.record_type, container, record, self._new_etag(),
                                     self._clock.now(), next(self._seq), write.stamp or None,
                                     tuple(write.categories), tuple(write.files), write.web_page, conversation)
        return self._items[item_id].view(item_id)

    def _update(self, item: _Item, *, record: Record | None = None, categories: tuple[str, ...] | None = None,
                stamp: str | None = None, web_page: str | None = None) -> None:
        if record is not None:
            item.record = record
            if isinstance(record, Contact) and web_page is None:
                item.web_page = None      # a record without a separate web page carries its own
        if categories is not None:
            item.categories = tuple(categories)
        if stamp is not None:
            item.stamp = stamp or None
        if web_page is not None:
            item.web_page = web_page
        item.etag = self._new_etag()
        item.modified_at = self._clock.now()
        item.seq = next(self._seq)

    def _remove(self, item_id: str) -> None:
        item = self._items.pop(item_id)
        self._tombstones[item_id] = _Tombstone(item.mailbox, item.container, next(self._seq))

    def _live(self, mailbox: str, record_type: RecordType, item_id: str) -> _Item:
        item = self._items.get(item_id)
        if item is None or item.mailbox != mailbox or item.record_type is not record_type:
            raise NotFound(f"{record_type} {item_id} not found")
        return item

    # ------------------------------------------------------------ internals

    def _container(self, mailbox: str, record_type: RecordType, name: str | None) -> str:
        key = (mailbox, record_type, name or "")
        if key not in self._containers:
            container_id = f"AQMk{next(self._ids):06d}{record_type.value[:2]}"
            self._containers[key] = container_id
            self._container_types[container_id] = record_type
        return self._containers[key]

    def _changes_after(self, mailbox: str, container: str, after: int,
                       include_removed: bool) -> list[tuple[int, MailboxItem[Any] | Removed]]:
        out: list[tuple[int, MailboxItem[Any] | Removed]] = [
            (item.seq, item.view(item_id)) for item_id, item in self._items.items()
            if item.mailbox == mailbox and item.container == container and item.seq > after]
        if include_removed:
            out += [(t.seq, Removed(item_id)) for item_id, t in self._tombstones.items()
                    if t.mailbox == mailbox and t.container == container and t.seq > after]
        out.sort(key=lambda entry: entry[0])
        return out

    def _peek_seq(self) -> int:
        value = next(self._seq)
        return value

    def _new_id(self) -> str:
        return f"AAMkAG{next(self._ids):08x}="

    def _new_etag(self) -> str:
        return f'W/"CQAAAB{next(self._etags):06d}"'

    # ------------------------------------------------------------ test helpers

    def container_id(self, mailbox: str, record_type: RecordType, name: str | None) -> str:
        """The container id for ``name`` (created if missing), without counting a call."""
        return self._container(mailbox, record_type, name)

    def user_create(self, mailbox: str, record_type: RecordType, container: str, record: Record, *,
                    categories: tuple[str, ...] = (), stamp: str | None = None,
                    files: tuple[AttachmentContent, ...] = (), conversation_id: str = "") -> str:
        """Create an item as the user would in Outlook (a message in ``conversation_id``: a reply);
        returns its id."""
        write = MailboxWrite(WriteKind.CREATE, record_type, container, record=record, stamp=stamp,
                             categories=categories, files=files)
        return self._create(mailbox, write, container, conversation_id).id

    def user_update(self, mailbox: str, item_id: str, record: Record | None = None, *,
                    categories: tuple[str, ...] | None = None) -> None:
        """Edit an item as the user would (new etag)."""
        item = self._items[item_id]
        assert item.mailbox == mailbox
        self._update(item, record=record, categories=categories)

    def touch(self, mailbox: str, item_id: str) -> None:
        """A spurious version change: new etag, same content."""
        self.user_update(mailbox, item_id)

    def user_delete(self, mailbox: str, item_id: str) -> None:
        assert self._items[item_id].mailbox == mailbox
        self._remove(item_id)

    def invalidate_cursors(self, mailbox: str, container: str | None = None) -> None:
        """Make every existing delta cursor of the mailbox (or one container) raise SyncStateLost."""
        for (owner, _, _), container_id in self._containers.items():
            if owner == mailbox and (container is None or container_id == container):
                key = (mailbox, container_id)
                self._epochs[key] = self._epochs.get(key, 0) + 1

    def replay_next(self, mailbox: str, container: str) -> None:
        """The next delta listing of this container starts a page earlier (replays entries)."""
        self._replay.add((mailbox, container))

    def fail_call(self, k: int, error: ExsyncError | None = None) -> None:
        """The k-th gateway call from now raises ``error`` (default: a 503 RemoteError)."""
        self.faults.arm_call(k, error or RemoteError("service unavailable", status=503))

    def fail_write(self, k: int, error: ExsyncError | None = None) -> None:
        """The k-th single write from now fails in its result (default: a 503 RemoteError)."""
        self.faults.arm_write(k, error or RemoteError("service unavailable", status=503))

    def items(self, mailbox: str, record_type: RecordType,
              container: str | None = None) -> list[MailboxItem[Any]]:
        """Live items of a type (optionally of one container), oldest change first."""
        return [item.view(item_id) for item_id, item in sorted(self._items.items(), key=lambda kv: kv[1].seq)
                if item.mailbox == mailbox and item.record_type is record_type
                and (container is None or item.container == container)]

    def web_page_of(self, item_id: str) -> str | None:
        return self._items[item_id].web_page

    def files_of(self, item_id: str) -> tuple[AttachmentContent, ...]:
        return self._items[item_id].files

    def categories_of(self, mailbox: str) -> dict[str, str]:
        return dict(self._categories.get(mailbox, {}))


def _organized_by(record: Record, mailbox: str) -> bool:
    return isinstance(record, Event) and record.normalized().organizer in ("", mailbox.lower())


def _parse_cursor(cursor: str) -> tuple[str, int, int]:
    try:
        kind, epoch, seq = cursor.split(":")
        if kind not in ("F", "D"):
            raise ValueError(kind)
        return kind, int(epoch), int(seq)
    except ValueError as exc:
        raise SyncStateLost(f"unreadable delta token {cursor!r}", status=410,
                            code="syncStateNotFound") from exc
