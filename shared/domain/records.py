"""Synced records (Contact, EmailMessage, Task, Event): their normalized form and content hash.

A record holds only the fields both sides can represent. Side-specific metadata (ids,
versions, categories, stamps, owners) lives in the ports' envelopes, not here, so two
records are equal exactly when the content that syncs is equal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeAlias


class RecordType(StrEnum):
    """The four kinds of record exsync keeps in sync."""

    CONTACT = "contact"
    EMAIL = "email"
    TASK = "task"
    EVENT = "event"


class TaskStatus(StrEnum):
    """To Do task status values (the mailbox vocabulary; the ERP maps onto it)."""

    NOT_STARTED = "notStarted"
    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"
    WAITING_ON_OTHERS = "waitingOnOthers"
    DEFERRED = "deferred"


class Importance(StrEnum):
    """Task importance / ERP priority."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


def _text(value: str | None) -> str:
    """Normalize free text: NFC, unified newlines, trimmed."""
    if not value:
        return ""
    return unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _address(value: str | None) -> str:
    """Normalize an e-mail address: trimmed and lower-cased."""
    return _text(value).lower()


def _when(value: datetime | None) -> datetime | None:
    """Normalize a timestamp to UTC with whole seconds (both sides round differently)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


class _Record:
    """Mixin for record dataclasses: normalization, hashing and per-field access."""

    KIND: ClassVar[RecordType]

    def normalized(self) -> _Record:
        raise NotImplementedError

    def as_dict(self) -> dict[str, Any]:
        """The normalized record as plain JSON-ready data (the hashed form)."""
        return {k: _jsonable(v) for k, v in _fields(self.normalized()).items()}

    def content_hash(self) -> str:
        """Stable SHA-256 of the normalized content (hex). Equal content, equal hash."""
        blob = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(f"{self.KIND.value}:{blob}".encode()).hexdigest()

    def field_values(self) -> dict[str, Any]:
        """Normalized field values by name (for three-way field merge)."""
        return _fields(self.normalized())

    def with_fields(self, values: Mapping[str, Any]) -> Any:
        """A copy with the given fields replaced."""
        return dataclasses.replace(self, **dict(values))  # type: ignore[type-var]


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


@dataclasses.dataclass(frozen=True, slots=True)
class Contact(_Record):
    """A person in the CRM / the mailbox's contacts."""

    KIND: ClassVar[RecordType] = RecordType.CONTACT

    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    email: str = ""
    company: str = ""
    job_title: str = ""
    business_phone: str = ""
    mobile_phone: str = ""
    web_page: str = ""
    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    notes: str = ""

    def normalized(self) -> Contact:
        values = {k: _text(v) for k, v in _fields(self).items()}
        values["email"] = _address(self.email)
        if not values["display_name"]:
            values["display_name"] = " ".join(p for p in (values["first_name"], values["last_name"]) if p)
        return Contact(**values)


@dataclasses.dataclass(frozen=True, slots=True)
class Attachment:
    """Attachment metadata; content is fetched separately and identified by ``content_hash``."""

    name: str
    size: int
    content_type: str = "application/octet-stream"
    content_hash: str = ""

    def normalized(self) -> Attachment:
        return Attachment(_text(self.name), int(self.size), _text(self.content_type).lower(),
                          self.content_hash.lower())


@dataclasses.dataclass(frozen=True, slots=True)
class EmailMessage(_Record):
    """An e-mail: an ERP email activity / a mailbox message."""

    KIND: ClassVar[RecordType] = RecordType.EMAIL

    subject: str = ""
    body: str = ""
    from_address: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    sent_at: datetime | None = None
    incoming: bool = True
    internet_message_id: str = ""
    attachments: tuple[Attachment, ...] = ()

    def normalized(self) -> EmailMessage:
        return EmailMessage(
            subject=_text(self.subject),
            body=_text(self.body),
            from_address=_address(self.from_address),
            to=tuple(sorted({_address(a) for a in self.to if _address(a)})),
            cc=tuple(sorted({_address(a) for a in self.cc if _address(a)})),
            bcc=tuple(sorted({_address(a) for a in self.bcc if _address(a)})),
            sent_at=_when(self.sent_at),
            incoming=bool(self.incoming),
            internet_message_id=_text(self.internet_message_id),
            attachments=tuple(sorted((a.normalized() for a in self.attachments),
                                     key=lambda a: (a.name, a.content_hash, a.size))),
        )

    def addresses(self) -> tuple[str, ...]:
        """Every address on the message (from, to, cc, bcc), normalized, without duplicates."""
        n = self.normalized()
        seen = dict.fromkeys((n.from_address, *n.to, *n.cc, *n.bcc))
        return tuple(a for a in seen if a)


@dataclasses.dataclass(frozen=True, slots=True)
class Task(_Record):
    """A to-do: an ERP task activity / a Microsoft To Do task.

    ``status`` is None when the ERP status has no To Do counterpart (Draft, Rejected): such
    tasks are not synced (PRODUCT §4).
    """

    KIND: ClassVar[RecordType] = RecordType.TASK

    title: str = ""
    body: str = ""
    status: TaskStatus | None = TaskStatus.NOT_STARTED
    importance: Importance = Importance.NORMAL
    start_at: datetime | None = None
    due_at: datetime | None = None
    completed_at: datetime | None = None

    def normalized(self) -> Task:
        return Task(
            title=_text(self.title),
            body=_text(self.body),
            status=self.status,
            importance=self.importance,
            start_at=_when(self.start_at),
            due_at=_when(self.due_at),
            completed_at=_when(self.completed_at) if self.status is TaskStatus.COMPLETED else None,
        )


class AttendeeResponse(StrEnum):
    """An attendee's answer to an invitation."""

    NONE = "none"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


@dataclasses.dataclass(frozen=True, slots=True)
class Attendee:
    """One invited person; identity is the normalized address."""

    email: str
    name: str = ""
    required: bool = True

    def normalized(self) -> Attendee:
        return Attendee(_address(self.email), _text(self.name), bool(self.required))


@dataclasses.dataclass(frozen=True, slots=True)
class Event(_Record):
    """A calendar appointment / an ERP event. ``organizer`` is the initiator's address."""

    KIND: ClassVar[RecordType] = RecordType.EVENT

    subject: str = ""
    body: str = ""
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    location: str = ""
    organizer: str = ""
    attendees: tuple[Attendee, ...] = ()
    cancelled: bool = False

    def normalized(self) -> Event:
        attendees = {a.normalized().email: a.normalized() for a in self.attendees if _address(a.email)}
        return Event(
            subject=_text(self.subject),
            body=_text(self.body),
            start=_when(self.start),
            end=_when(self.end),
            all_day=bool(self.all_day),
            location=_text(self.location),
            organizer=_address(self.organizer),
            attendees=tuple(attendees[k] for k in sorted(attendees)),
            cancelled=bool(self.cancelled),
        )


Record: TypeAlias = Contact | EmailMessage | Task | Event

RECORD_CLASSES: dict[RecordType, type[Contact] | type[EmailMessage] | type[Task] | type[Event]] = {
    RecordType.CONTACT: Contact,
    RecordType.EMAIL: EmailMessage,
    RecordType.TASK: Task,
    RecordType.EVENT: Event,
}
