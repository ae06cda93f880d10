"""In-memory twin of :class:`shared.ports.ErpGateway` (the ERP's CRM records).

Behaves like the Acumatica gateway where the engine can tell the difference: ids are GUIDs,
versions are LastModifiedDateTime-like stamps that strictly increase on every write, update and
delete are conditional on the version (a stale one fails that write with ConcurrencyConflict),
``list_changes`` is a watermark listing in scope (``ErpScope`` semantics per record type) that also
reports ``Removed`` for records deleted, or changed out of scope, after the watermark (what the
push notifications' ``Deleted`` rows tell the real gateway).

Test helpers (``user_*``, ``touch``, ``fail_call``, ``fail_write``, ``items``) edit records
"behind exsync's back", inject faults on the k-th call or write, and inspect contents.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.records import Contact, EmailMessage, Event, Record, RecordType, Task
from shared.errors import ConcurrencyConflict, ExsyncError, NotFound, RemoteError, ValidationFailed
from shared.faults import CallFaults
from shared.ports import (
    AttachmentContent,
    Clock,
    ErpItem,
    ErpScope,
    ErpWrite,
    Page,
    Removed,
    WriteKind,
    WriteResult,
)
from shared.scope import in_scope

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class _Row:
    record_type: RecordType
    record: Record
    version: str
    modified_at: datetime
    owner: str | None = None
    workgroup: str | None = None
    contact_class: str | None = None
    related_contacts: tuple[str, ...] = ()
    origin: str | None = None
    files: tuple[AttachmentContent, ...] = ()
    deleted: bool = False

    def view(self, item_id: str) -> ErpItem[Any]:
        return ErpItem(id=item_id, version=self.version, modified_at=self.modified_at, record=self.record,
                       owner=self.owner, workgroup=self.workgroup, contact_class=self.contact_class,
                       related_contacts=self.related_contacts, origin=self.origin)


class InMemoryErpGateway:
    """ERP records held in a dictionary; see the module docstring for the behaviour it mimics."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock
        self._rows: dict[str, _Row] = {}
        self._ids = itertools.count(1)   # deterministic GUIDs: reproducible tests
        self._last = datetime(2026, 1, 1, tzinfo=UTC)
        self.workgroups: dict[str, tuple[str, ...]] = {}  # employee id -> workgroups
        self.faults = CallFaults()
        self.applied: list[ErpWrite] = []  # every successful write, in order
        self.closed = False

    # ------------------------------------------------------------ port

    async def list_changes(self, record_type: RecordType, scope: ErpScope, cursor: str | None,
                           page_size: int, removed: Sequence[str] = ()) -> Page[ErpItem[Any]]:
        self.faults.call()
        # the oldest page_size + 1 changes (stable by version), never a list of every row
        entries = heapq.nsmallest(page_size + 1, self._changes(record_type, scope, cursor),
                                  key=lambda entry: entry[0])
        page = entries[:page_size]
        more = len(entries) > page_size
        if more:
            watermark = page[-1][0]
        else:  # the watermark covers every row of the type looked at, in scope or not
            watermark = max((row.version for row in self._rows.values() if row.record_type is record_type),
                            default="")
            watermark = max(cursor or "", watermark)
        listed = [entry for _, entry in page]
        known = {entry.id for entry in listed}
        told = [Removed(i) for i in dict.fromkeys(removed) if i not in known]  # the caller's push removals
        return Page(items=(*told, *listed), cursor=watermark or None, complete=not more)

    def _changes(self, record_type: RecordType, scope: ErpScope,
                 cursor: str | None) -> Iterator[tuple[str, ErpItem[Any] | Removed]]:
        for item_id, row in self._rows.items():
            if row.record_type is not record_type or (cursor is not None and row.version <= cursor):
                continue
            if not row.deleted and self._in_scope(record_type, row.view(item_id), scope):
                yield row.version, row.view(item_id)
            elif cursor is not None:
                yield row.version, Removed(item_id)

    async def list_ids(self, record_type: RecordType, scope: ErpScope, cursor: str | None,
                       page_size: int) -> Page[str]:
        self.faults.call()
        ids = sorted(item_id for item_id, row in self._rows.items()
                     if row.record_type is record_type and not row.deleted
                     and self._in_scope(record_type, row.view(item_id), scope)
                     and (cursor is None or item_id > cursor))
        page = ids[:page_size]
        more = len(ids) > page_size
        return Page(items=tuple(page), cursor=page[-1] if more else None, complete=not more)

    async def get(self, record_type: RecordType, item_id: str) -> ErpItem[Any] | None:
        self.faults.call()
        row = self._rows.get(item_id)
        if row is None or row.deleted or row.record_type is not record_type:
            return None
        return row.view(item_id)

    async def get_many(self, record_type: RecordType, ids: Sequence[str]) -> dict[str, ErpItem[Any]]:
        self.faults.call()
        return {item_id: row.view(item_id) for item_id in ids if (row := self._rows.get(item_id)) is not None
                and not row.deleted and row.record_type is record_type}

    async def existing_ids(self, record_type: RecordType, scope: ErpScope, ids: Sequence[str]) -> set[str]:
        self.faults.call()
        return {item_id for item_id in ids if (row := self._rows.get(item_id)) is not None
                and row.record_type is record_type and not row.deleted
                and self._in_scope(record_type, row.view(item_id), scope)}

    async def find_by_origin(self, record_type: RecordType, origin: str) -> ErpItem[Any] | None:
        self.faults.call()
        for item_id, row in self._rows.items():
            if row.record_type is record_type and not row.deleted and row.origin == origin:
                return row.view(item_id)
        return None

    async def find_contact_by_email(self, email: str) -> ErpItem[Any] | None:
        self.faults.call()
        wanted = email.strip().lower()
        for item_id, row in self._rows.items():
            if (wanted and row.record_type is RecordType.CONTACT and not row.deleted
                    and isinstance(row.record, Contact) and row.record.email.strip().lower() == wanted):
                return row.view(item_id)
        return None

    async def find_contacts_by_email(self, emails: Sequence[str]) -> dict[str, ErpItem[Any]]:
        self.faults.call()
        wanted = {e.strip().lower() for e in emails if e.strip()}
        found: dict[str, ErpItem[Any]] = {}
        for item_id, row in self._rows.items():
            if row.record_type is RecordType.CONTACT and not row.deleted and isinstance(row.record, Contact):
                key = row.record.email.strip().lower()
                if key in wanted and key not in found:
                    found[key] = row.view(item_id)
        return found

    async def find_email_by_message_id(self, internet_message_id: str) -> ErpItem[Any] | None:
        self.faults.call()
        wanted = internet_message_id.strip()
        for item_id, row in self._rows.items():
            if (wanted and row.record_type is RecordType.EMAIL and not row.deleted
                    and isinstance(row.record, EmailMessage)
                    and row.record.internet_message_id.strip() == wanted):
                return row.view(item_id)
        return None

    async def read_attachments(self, record_type: RecordType, item_id: str,
                               max_bytes: int) -> tuple[AttachmentContent, ...]:
        self.faults.call()
        row = self._rows.get(item_id)
        if row is None or row.deleted:
            raise NotFound(f"{record_type} {item_id} not found")
        return tuple(f for f in row.files if len(f.content) <= max_bytes)

    async def apply(self, writes: Sequence[ErpWrite]) -> list[WriteResult[ErpWrite]]:
        def one(write: ErpWrite) -> ErpItem[Any] | None:
            item = self._apply_one(write)
            self.applied.append(write)
            return item

        return self.faults.apply_each(writes, one)

    async def aclose(self) -> None:
        self.closed = True

    # ------------------------------------------------------------ writes

    def _apply_one(self, write: ErpWrite) -> ErpItem[Any] | None:
        if write.kind is WriteKind.CREATE:
            if write.record is None:
                raise ValidationFailed({"record": "a create needs a record"})
            related = write.related_contacts
            if write.related_record is not None:  # one relation per activity, as in Acumatica
                kind, record_id = write.related_record
                if kind != "contact":
                    related = ()
                elif self._is_contact(record_id):
                    related = (record_id.lower(),)  # else gone: the e-mail's contacts, as the gateway falls back
            return self._insert(write.record_type, write.record, owner=write.owner,
                                contact_class=write.contact_class, related=related,
                                origin=write.origin, files=write.files)
        if write.kind not in (WriteKind.UPDATE, WriteKind.DELETE):
            raise ValidationFailed({"kind": f"{write.kind} is a mailbox-only write"})
        item_id = write.item_id or ""
        row = self._rows.get(item_id)
        if row is None or row.deleted or row.record_type is not write.record_type:
            raise NotFound(f"{write.record_type} {item_id} not found")
        if write.version is not None and write.version != row.version:
            raise ConcurrencyConflict(f"{write.record_type} {item_id} changed since {write.version}")
        if write.kind is WriteKind.DELETE:
            row.deleted = True
            self._bump(row)
            return None
        if write.record is not None:
            row.record = write.record
        if write.owner is not None:
            row.owner = write.owner
        if write.related_contacts:
            row.related_contacts = tuple(write.related_contacts)
        if write.files:
            row.files = tuple(write.files)
        self._bump(row)
        return row.view(item_id)

    def _is_contact(self, record_id: str) -> bool:
        row = self._rows.get(record_id.lower())
        return row is not None and not row.deleted and row.record_type is RecordType.CONTACT

    def _insert(self, record_type: RecordType, record: Record, *, owner: str | None = None,
                workgroup: str | None = None, contact_class: str | None = None,
                related: tuple[str, ...] = (), origin: str | None = None,
                files: tuple[AttachmentContent, ...] = ()) -> ErpItem[Any]:
        if not isinstance(record, _CLASSES[record_type]):
            raise ValidationFailed({"record": f"expected a {record_type} record"})
        item_id = str(uuid.UUID(int=next(self._ids) * 0x9E3779B97F4A7C15 % (1 << 128)))
        row = _Row(record_type, record, "", self._last, owner, workgroup, contact_class, tuple(related),
                   origin, tuple(files))
        self._bump(row)
        self._rows[item_id] = row
        return row.view(item_id)

    def _bump(self, row: _Row) -> None:
        now = self._clock.now() if self._clock is not None else self._last
        stamp = max(now, self._last + timedelta(milliseconds=1))
        self._last = stamp
        row.modified_at = stamp
        row.version = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")

    def _in_scope(self, record_type: RecordType, item: ErpItem[Any], scope: ErpScope) -> bool:
        return in_scope(record_type, item, scope, self.workgroups.get(scope.employee_id, ()))

    # ------------------------------------------------------------ test helpers

    def user_create(self, record_type: RecordType, record: Record, *, owner: str | None = None,
                    workgroup: str | None = None, contact_class: str | None = None,
                    related_contacts: tuple[str, ...] = (),
                    files: tuple[AttachmentContent, ...] = ()) -> str:
        """Create a record as a user would in the ERP; returns its id."""
        return self._insert(record_type, record, owner=owner, workgroup=workgroup,
                            contact_class=contact_class, related=related_contacts, files=files).id

    def user_update(self, item_id: str, record: Record | None = None, *, owner: str | None = None,
                    workgroup: str | None = None) -> None:
        """Edit a record as a user would (new version)."""
        row = self._rows[item_id]
        assert not row.deleted
        if record is not None:
            row.record = record
        if owner is not None:
            row.owner = owner
        if workgroup is not None:
            row.workgroup = workgroup
        self._bump(row)

    def touch(self, item_id: str) -> None:
        """A spurious version change: new LastModifiedDateTime, same content."""
        self.user_update(item_id)

    def user_delete(self, item_id: str) -> None:
        row = self._rows[item_id]
        assert not row.deleted
        row.deleted = True
        self._bump(row)

    def user_delete_unseen(self, item_id: str) -> None:
        """Delete as Acumatica does when no push notification arrives: no listing ever shows it."""
        row = self._rows[item_id]
        assert not row.deleted
        row.deleted = True

    def fail_call(self, k: int, error: ExsyncError | None = None) -> None:
        """The k-th gateway call from now raises ``error`` (default: a 503 RemoteError)."""
        self.faults.arm_call(k, error or RemoteError("service unavailable", status=503))

    def fail_write(self, k: int, error: ExsyncError | None = None) -> None:
        """The k-th single write from now fails in its result (default: a 503 RemoteError)."""
        self.faults.arm_write(k, error or RemoteError("service unavailable", status=503))

    def items(self, record_type: RecordType) -> list[ErpItem[Any]]:
        """Live records of a type, oldest version first."""
        return [row.view(item_id) for item_id, row in sorted(self._rows.items(), key=lambda kv: kv[1].version)
                if row.record_type is record_type and not row.deleted]

    def files_of(self, item_id: str) -> tuple[AttachmentContent, ...]:
        return self._rows[item_id].files


_CLASSES: dict[RecordType, type] = {
    RecordType.CONTACT: Contact,
    RecordType.EMAIL: EmailMessage,
    RecordType.TASK: Task,
    RecordType.EVENT: Event,
}
