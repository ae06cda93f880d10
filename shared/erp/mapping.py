"""Acumatica <-> domain mapping: pure functions between contract-based REST JSON and exsync records.

Owns how each :class:`~shared.domain.records.Record` is written as an Acumatica entity of
endpoint ``Default/24.200.001`` (values wrapped as ``{"value": …}``) and how an entity becomes an
:class:`~shared.ports.ErpItem`. No I/O here.

Conventions (checked against the official OpenAPI of the endpoint):
- ``id`` (the NoteID) is the ERP id; ``LastModifiedDateTime`` as served is the version.
- Contact: the idempotency key (``ErpWrite.origin``) is stored in ``ExtRefNbr``; notes in the
  system field ``note``; ``DisplayName`` is computed by Acumatica (first + middle + last) and
  never written; business phone -> ``Phone1``, mobile -> ``Phone2``; address -> ``Address``.
- Activities (Email, Task, Event) have no external-reference field, so the idempotency key and
  the e-mail's Internet message id (the endpoint has no message-id field) are kept as tagged
  lines in the activity's ``note`` (:func:`note_with_meta`), looked up with ``substringof``.
- Email: ``From``/``To``/``Cc``/``Bcc`` are ``;``-separated address lists, ``StartDate`` is the
  date, ``MailStatus`` is written ``Processed`` so Acumatica never sends a synced copy again;
  the linked contact is ``RelatedEntityNoteID`` with ``RelatedEntityType`` ``PX.Objects.CR.Contact``.
- Task status: the table of PRODUCT §4 (:data:`TASK_STATUS_TO_DOMAIN`); writing a domain status
  keeps an ERP status that already maps to it (:func:`task_status_for_erp`).
- Event: no Owner field; the organizer is kept as the attendee line whose ``Comment`` is
  :data:`ORGANIZER_COMMENT`; ``Status`` ``Canceled`` is the cancelled flag (a completed event
  stays completed). Acumatica has no required/optional attendee flag: every attendee reads back
  as required.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.domain.records import (
    Attachment,
    Attendee,
    Contact,
    EmailMessage,
    Event,
    Importance,
    Record,
    RecordType,
    Task,
    TaskStatus,
)
from shared.errors import ValidationFailed
from shared.ports import AttachmentContent, ErpItem

ENTITY: dict[RecordType, str] = {
    RecordType.CONTACT: "Contact",
    RecordType.EMAIL: "Email",
    RecordType.TASK: "Task",
    RecordType.EVENT: "Event",
}
CONTACT_TYPE = "PX.Objects.CR.Contact"
ORGANIZER_COMMENT = "Organizer"
ORIGIN_TAG = "exsync-origin:"
MESSAGE_ID_TAG = "exsync-message-id:"
PROCESSED = "Processed"

# PRODUCT §4: ERP status -> To Do status; None = not synced (Draft, Rejected, Released).
TASK_STATUS_TO_DOMAIN: dict[str, TaskStatus | None] = {
    "Open": TaskStatus.NOT_STARTED,
    "Draft": None,
    "In Process": TaskStatus.IN_PROGRESS,
    "Canceled": TaskStatus.COMPLETED,
    "Completed": TaskStatus.COMPLETED,
    "Approved": TaskStatus.IN_PROGRESS,
    "Pending Approval": TaskStatus.WAITING_ON_OTHERS,
    "Rejected": None,
    "Released": None,
}
# The ERP status written for a domain status no current ERP status maps to.
TASK_STATUS_TO_ERP: dict[TaskStatus, str] = {
    TaskStatus.NOT_STARTED: "Open",
    TaskStatus.IN_PROGRESS: "In Process",
    TaskStatus.COMPLETED: "Completed",
    TaskStatus.WAITING_ON_OTHERS: "Pending Approval",
}
PRIORITY_TO_DOMAIN = {"Low": Importance.LOW, "Normal": Importance.NORMAL, "High": Importance.HIGH}
PRIORITY_TO_ERP = {v: k for k, v in PRIORITY_TO_DOMAIN.items()}
_ADDRESS = re.compile(r"<([^<>]+)>")


# ---------------------------------------------------------------- values


def value(entity: Mapping[str, Any], name: str) -> Any:
    """The plain value of a wrapped field (None when absent)."""
    wrapped = entity.get(name)
    return wrapped.get("value") if isinstance(wrapped, Mapping) else None


def text(entity: Mapping[str, Any], name: str) -> str:
    raw = value(entity, name)
    return "" if raw is None else str(raw)


def parse_time(raw: Any) -> datetime | None:
    """An Acumatica date-time (ISO 8601 with offset; naive means UTC)."""
    if not raw:
        return None
    parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def wrap(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"Field": {"value": v}}`` for each plain value."""
    return {name: {"value": v} for name, v in values.items()}


def split_addresses(raw: str) -> tuple[str, ...]:
    """``"A <a@x>; b@y"`` -> ``("a@x", "b@y")``."""
    out: list[str] = []
    for part in re.split(r"[;,]", raw or ""):
        part = part.strip()
        if not part:
            continue
        match = _ADDRESS.search(part)
        out.append((match.group(1) if match else part).strip())
    return tuple(out)


def join_addresses(addresses: Iterable[str]) -> str:
    return "; ".join(a.strip() for a in addresses if a.strip())


# ---------------------------------------------------------------- note meta (activities)


def meta_from_note(note: str | None) -> dict[str, str]:
    """Tagged lines of an activity note: ``{"origin": …, "message_id": …}``."""
    meta: dict[str, str] = {}
    for line in (note or "").splitlines():
        line = line.strip()
        if line.startswith(ORIGIN_TAG):
            meta["origin"] = line[len(ORIGIN_TAG):].strip()
        elif line.startswith(MESSAGE_ID_TAG):
            meta["message_id"] = line[len(MESSAGE_ID_TAG):].strip()
    return meta


def note_with_meta(note: str | None, *, origin: str | None = None, message_id: str | None = None) -> str:
    """``note`` with the origin / message-id lines set (other lines kept)."""
    kept = [line for line in (note or "").splitlines()
            if not line.strip().startswith((ORIGIN_TAG, MESSAGE_ID_TAG))]
    meta = meta_from_note(note)
    origin = origin or meta.get("origin")
    message_id = message_id or meta.get("message_id")
    if origin:
        kept.append(f"{ORIGIN_TAG}{origin}")
    if message_id:
        kept.append(f"{MESSAGE_ID_TAG}{message_id}")
    return "\n".join(kept)


def note_text(entity: Mapping[str, Any]) -> str:
    note = entity.get("note")
    raw = note.get("value") if isinstance(note, Mapping) else note
    return "" if raw is None else str(raw)


# ---------------------------------------------------------------- task status


def task_status_to_domain(erp_status: str | None) -> TaskStatus | None:
    """PRODUCT §4; an unknown or missing status is not synced (None)."""
    return TASK_STATUS_TO_DOMAIN.get(erp_status or "")


def task_status_for_erp(status: TaskStatus | None, current: str | None) -> str | None:
    """The ERP status to write for a domain status; None means leave the ERP status alone.

    An ERP status that already maps to ``status`` is kept (Approved stays Approved for
    inProgress, Canceled stays Canceled for completed). Deferred and None have no ERP
    counterpart and change nothing.
    """
    if status is None or status is TaskStatus.DEFERRED:
        return None
    if current is not None and task_status_to_domain(current) is status:
        return current
    return TASK_STATUS_TO_ERP[status]


# ---------------------------------------------------------------- contacts


def contact_to_domain(entity: Mapping[str, Any]) -> Contact:
    address = entity.get("Address") if isinstance(entity.get("Address"), Mapping) else {}
    assert isinstance(address, Mapping)
    return Contact(
        first_name=text(entity, "FirstName"), last_name=text(entity, "LastName"),
        display_name=text(entity, "DisplayName"), email=text(entity, "Email"),
        company=text(entity, "CompanyName"), job_title=text(entity, "JobTitle"),
        business_phone=text(entity, "Phone1"), mobile_phone=text(entity, "Phone2"),
        web_page=text(entity, "WebSite"), street=text(address, "AddressLine1"), city=text(address, "City"),
        state=text(address, "State"), postal_code=text(address, "PostalCode"),
        country=text(address, "Country"), notes=note_text(entity),
    )


def contact_from_domain(contact: Contact, *, owner: str | None = None, contact_class: str | None = None,
                        origin: str | None = None) -> dict[str, Any]:
    body = wrap({
        "FirstName": contact.first_name, "LastName": contact.last_name, "Email": contact.email.strip(),
        "CompanyName": contact.company, "JobTitle": contact.job_title, "Phone1": contact.business_phone,
        "Phone2": contact.mobile_phone, "WebSite": contact.web_page,
    })
    if not contact.first_name and not contact.last_name and contact.display_name:
        body["LastName"] = {"value": contact.display_name}  # Acumatica needs a name to build DisplayName
    body["Address"] = wrap({"AddressLine1": contact.street, "City": contact.city, "State": contact.state,
                            "PostalCode": contact.postal_code, "Country": contact.country})
    body["note"] = {"value": contact.notes}
    if owner is not None:
        body["Owner"] = {"value": owner}
    if contact_class is not None:
        body["ContactClass"] = {"value": contact_class}
    if origin is not None:
        body["ExtRefNbr"] = {"value": origin}
    return body


# ---------------------------------------------------------------- emails


def attachment_meta(name: str, content: bytes) -> Attachment:
    """Attachment metadata as both sides compute it: size, guessed type, SHA-256 of the content."""
    return Attachment(name=name, size=len(content),
                      content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                      content_hash=hashlib.sha256(content).hexdigest())


def file_name(link: Mapping[str, Any]) -> str:
    """``"Email (…)\\report.pdf"`` -> ``"report.pdf"``."""
    return str(link.get("filename", "")).replace("/", "\\").rsplit("\\", 1)[-1]


def email_to_domain(entity: Mapping[str, Any], files: Sequence[AttachmentContent] = ()) -> EmailMessage:
    return EmailMessage(
        subject=text(entity, "Subject"), body=text(entity, "Body"),
        from_address=next(iter(split_addresses(text(entity, "From"))), ""),
        to=split_addresses(text(entity, "To")), cc=split_addresses(text(entity, "Cc")),
        bcc=split_addresses(text(entity, "Bcc")), sent_at=parse_time(value(entity, "StartDate")),
        incoming=bool(value(entity, "Incoming")),
        internet_message_id=meta_from_note(note_text(entity)).get("message_id", ""),
        attachments=tuple(f.meta for f in files),
    )


def email_from_domain(email: EmailMessage, *, owner: str | None = None, related_contact: str | None = None,
                      origin: str | None = None, current_note: str | None = None,
                      related_entity: tuple[str, str] | None = None) -> dict[str, Any]:
    """The Email body; ``related_entity`` (RelatedEntityType, NoteID) links it to a record other than
    a contact (a case, an opportunity: a reply following its filed conversation)."""
    body = wrap({
        "Subject": email.subject, "Body": email.body, "From": email.from_address,
        "To": join_addresses(email.to), "Cc": join_addresses(email.cc), "Bcc": join_addresses(email.bcc),
        "StartDate": format_time(email.sent_at), "Incoming": email.incoming, "MailStatus": PROCESSED,
    })
    body["note"] = {"value": note_with_meta(current_note, origin=origin,
                                            message_id=email.internet_message_id or None)}
    if owner is not None:
        body["Owner"] = {"value": owner}
    if related_entity:
        body.update(wrap({"RelatedEntityType": related_entity[0], "RelatedEntityNoteID": related_entity[1]}))
    elif related_contact:
        body.update(wrap({"RelatedEntityType": CONTACT_TYPE, "RelatedEntityNoteID": related_contact}))
    return body


# ---------------------------------------------------------------- tasks


def task_to_domain(entity: Mapping[str, Any]) -> Task:
    return Task(
        title=text(entity, "Summary"), body=text(entity, "Body"),
        status=task_status_to_domain(value(entity, "Status")),
        importance=PRIORITY_TO_DOMAIN.get(text(entity, "Priority"), Importance.NORMAL),
        start_at=parse_time(value(entity, "StartDate")), due_at=parse_time(value(entity, "DueDate")),
        completed_at=parse_time(value(entity, "CompletedAt")),
    )


def task_from_domain(task: Task, *, current_status: str | None = None, owner: str | None = None,
                     related_contact: str | None = None, origin: str | None = None,
                     current_note: str | None = None) -> dict[str, Any]:
    body = wrap({
        "Summary": task.title, "Body": task.body, "Priority": PRIORITY_TO_ERP[task.importance],
        "StartDate": format_time(task.start_at), "DueDate": format_time(task.due_at),
    })
    status = task_status_for_erp(task.status, current_status)
    if status is not None:
        body["Status"] = {"value": status}
    if task.status is TaskStatus.COMPLETED and task.completed_at is not None:
        body["CompletedAt"] = {"value": format_time(task.completed_at)}
    if owner is not None:
        body["Owner"] = {"value": owner}
    if related_contact:
        body.update(wrap({"RelatedEntityType": CONTACT_TYPE, "RelatedEntityNoteID": related_contact}))
    if origin or current_note:
        body["note"] = {"value": note_with_meta(current_note, origin=origin)}
    return body


# ---------------------------------------------------------------- events


def event_to_domain(entity: Mapping[str, Any]) -> Event:
    organizer = ""
    attendees: list[Attendee] = []
    for line in entity.get("Attendees") or []:
        if text(line, "Comment") == ORGANIZER_COMMENT and not organizer:
            organizer = text(line, "Email")
        else:
            attendees.append(Attendee(email=text(line, "Email"), name=text(line, "Name")))
    return Event(
        subject=text(entity, "Summary"), body=text(entity, "Body"),
        start=parse_time(value(entity, "StartDate")), end=parse_time(value(entity, "EndDate")),
        all_day=bool(value(entity, "AllDay")), location=text(entity, "Location"), organizer=organizer,
        attendees=tuple(attendees), cancelled=text(entity, "Status") == "Canceled",
    )


def attendee_lines(event: Event, current: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Detail lines turning ``current`` attendees into the event's (organizer line first)."""
    wanted: dict[str, dict[str, Any]] = {}
    if event.organizer.strip():
        wanted[event.organizer.strip().lower()] = wrap({"Email": event.organizer.strip(),
                                                        "Comment": ORGANIZER_COMMENT})
    for attendee in event.attendees:
        key = attendee.email.strip().lower()
        if key and key not in wanted:
            wanted[key] = wrap({"Email": attendee.email.strip(), "Name": attendee.name, "Comment": ""})
    lines: list[dict[str, Any]] = []
    for line in current:
        key = text(line, "Email").lower()
        if key in wanted:
            lines.append({"id": line.get("id"), **wanted.pop(key)})
        else:
            lines.append({"id": line.get("id"), "delete": True})
    lines.extend(wanted.values())
    return lines


def event_from_domain(event: Event, *, current_status: str | None = None,
                      current_attendees: Sequence[Mapping[str, Any]] = (), origin: str | None = None,
                      related_contact: str | None = None, current_note: str | None = None) -> dict[str, Any]:
    body = wrap({
        "Summary": event.subject, "Body": event.body, "StartDate": format_time(event.start),
        "EndDate": format_time(event.end), "AllDay": event.all_day, "Location": event.location,
    })
    if event.cancelled:
        body["Status"] = {"value": "Canceled"}
    elif current_status in (None, "Canceled"):
        body["Status"] = {"value": "Open"}
    body["Attendees"] = attendee_lines(event, current_attendees)
    if related_contact:
        body.update(wrap({"RelatedEntityType": CONTACT_TYPE, "RelatedEntityNoteID": related_contact}))
    if origin or current_note:
        body["note"] = {"value": note_with_meta(current_note, origin=origin)}
    return body


# ---------------------------------------------------------------- items


def record_to_domain(record_type: RecordType, entity: Mapping[str, Any],
                     files: Sequence[AttachmentContent] = ()) -> Record:
    if record_type is RecordType.CONTACT:
        return contact_to_domain(entity)
    if record_type is RecordType.EMAIL:
        return email_to_domain(entity, files)
    if record_type is RecordType.TASK:
        return task_to_domain(entity)
    return event_to_domain(entity)


def item_from_entity(record_type: RecordType, entity: Mapping[str, Any],
                     files: Sequence[AttachmentContent] = ()) -> ErpItem[Any]:
    """An ERP envelope around the mapped record; raises ValidationFailed without id or version."""
    item_id = entity.get("id")
    version = value(entity, "LastModifiedDateTime")
    modified = parse_time(version)
    if not item_id or modified is None:
        raise ValidationFailed({"id": f"the {ENTITY[record_type]} entity lacks id or LastModifiedDateTime; "
                                      "request them in $select"})
    related: tuple[str, ...] = ()
    if text(entity, "RelatedEntityType") == CONTACT_TYPE and text(entity, "RelatedEntityNoteID"):
        related = (text(entity, "RelatedEntityNoteID").lower(),)
    if record_type is RecordType.CONTACT:
        origin = text(entity, "ExtRefNbr") or None
    else:
        origin = meta_from_note(note_text(entity)).get("origin")
    workgroup = text(entity, "WorkgroupID" if record_type is RecordType.TASK else "Workgroup") or None
    return ErpItem(
        id=str(item_id).lower(), version=str(version), modified_at=modified,
        record=record_to_domain(record_type, entity, files), owner=text(entity, "Owner") or None,
        workgroup=workgroup, contact_class=text(entity, "ContactClass") or None,
        related_contacts=related, origin=origin,
    )
