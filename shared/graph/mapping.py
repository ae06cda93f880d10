"""Graph <-> domain mapping: pure functions between msgraph-sdk models and exsync records.

Owns how a :class:`~shared.domain.records.Record` is represented on the Graph wire (contact,
message, event, todoTask) and how a Graph item becomes a :class:`~shared.ports.MailboxItem`
(immutable id, ETag, last-modified time, the ERP id stamp, categories). No I/O here.

Conventions:
- Times are written as ``dateTimeTimeZone`` in UTC; the gateway asks Graph for UTC
  (``Prefer: outlook.timezone="UTC"``) so reads come back in UTC too.
- Bodies are written as text; the gateway asks for text bodies on reads.
- The ERP id is stamped on contacts, messages and events as one fixed named extended property
  (:data:`STAMP_PROPERTY_ID`), and on To Do tasks as a ``linkedResource`` whose
  ``applicationName`` is :data:`LINK_APPLICATION` (To Do has no extended properties).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiota_serialization_json.json_parse_node import JsonParseNode
from msgraph.generated.models.attendee import Attendee as GraphAttendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.contact import Contact as GraphContact
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event as GraphEvent
from msgraph.generated.models.importance import Importance as GraphImportance
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.linked_resource import LinkedResource
from msgraph.generated.models.location import Location
from msgraph.generated.models.message import Message as GraphMessage
from msgraph.generated.models.physical_address import PhysicalAddress
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.models.single_value_legacy_extended_property import (
    SingleValueLegacyExtendedProperty,
)
from msgraph.generated.models.task_status import TaskStatus as GraphTaskStatus
from msgraph.generated.models.todo_task import TodoTask

from shared.domain.records import (
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
from shared.ports import MailboxItem

logger = logging.getLogger(__name__)

STAMP_GUID = "{8c3b6f9e-2f4a-4d7b-9a51-6e0d3c2b7a14}"
STAMP_PROPERTY_ID = f"String {STAMP_GUID} Name ExsyncErpId"
"""The one named extended property carrying the ERP id (named properties are a finite
mailbox resource: never derive names from data)."""

MESSAGE_FLAGS_PROPERTY_ID = "Integer 0x0E07"
"""PR_MESSAGE_FLAGS; value 1 (MSGFLAG_READ) set inline on create makes the message non-draft."""

CLIENT_SUBMIT_TIME_PROPERTY_ID = "SystemTime 0x0039"
DELIVERY_TIME_PROPERTY_ID = "SystemTime 0x0E06"

LINK_APPLICATION = "exsync"

GraphModel: TypeAlias = Any
"""A msgraph-sdk contact, message, event or todoTask (untyped for mypy: msgraph is not followed)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FRACTION = re.compile(r"(\.\d{6})\d+")


# ------------------------------------------------------------------ small helpers


def _s(value: str | None) -> str:
    return value or ""


def _address_of(recipient: Recipient | None) -> str:
    if recipient is None or recipient.email_address is None:
        return ""
    return _s(recipient.email_address.address)


def _recipients(addresses: Iterable[str]) -> list[Recipient]:
    return [Recipient(email_address=EmailAddress(address=a)) for a in addresses if a]


def _body_text(body: ItemBody | None) -> str:
    if body is None or body.content is None:
        return ""
    if body.content_type == BodyType.Html:
        return html_to_text(str(body.content))
    return str(body.content)


def html_to_text(html: str) -> str:
    """A plain-text rendering of an HTML body (used when a server ignores the text Prefer)."""
    text = re.sub(r"(?is)<(script|style|head).*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    for entity, char in (("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'),
                         ("&#39;", "'"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text.strip()


def _text_body(text: str) -> ItemBody:
    return ItemBody(content_type=BodyType.Text, content=text)


def parse_graph_time(value: DateTimeTimeZone | None) -> datetime | None:
    """A ``dateTimeTimeZone`` as an aware datetime (Graph sends 7 fraction digits)."""
    if value is None or not value.date_time:
        return None
    moment = datetime.fromisoformat(_FRACTION.sub(r"\1", value.date_time.rstrip("Z")))
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return moment.replace(tzinfo=_zone(value.time_zone)).astimezone(UTC)


def _zone(name: str | None) -> Any:
    if not name or name.upper() in {"UTC", "ETC/UTC", "GMT", "COORDINATED UNIVERSAL TIME"}:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r read as UTC; ask Graph for UTC times", name)
        return UTC


def graph_time(value: datetime | None) -> DateTimeTimeZone | None:
    """An aware (or naive UTC) datetime as a UTC ``dateTimeTimeZone``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return DateTimeTimeZone(date_time=text, time_zone="UTC")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def stamp_property(stamp: str) -> SingleValueLegacyExtendedProperty:
    return SingleValueLegacyExtendedProperty(id=STAMP_PROPERTY_ID, value=stamp)


def stamp_filter(stamp: str) -> str:
    """OData ``$filter`` finding items stamped with ``stamp``."""
    value = stamp.replace("'", "''")
    return (f"singleValueExtendedProperties/Any(ep: ep/id eq '{STAMP_PROPERTY_ID}' "
            f"and ep/value eq '{value}')")


STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{STAMP_PROPERTY_ID}')"
"""OData ``$expand`` returning the stamp with an item."""


def _same_property(left: str | None, right: str) -> bool:
    return (left or "").replace(" ", "").lower() == right.replace(" ", "").lower()


def read_stamp(model: GraphModel) -> str | None:
    """The ERP id stamped on a Graph item, if any."""
    if isinstance(model, TodoTask):
        for link in model.linked_resources or ():
            if link.application_name == LINK_APPLICATION and link.external_id:
                return str(link.external_id)
        return None
    for prop in model.single_value_extended_properties or ():
        if _same_property(prop.id, STAMP_PROPERTY_ID) and prop.value:
            return str(prop.value)
    return None


def read_etag(model: GraphModel) -> str:
    """The value to send as ``If-Match``: ``@odata.etag``, else the changeKey as a weak ETag."""
    etag = (model.additional_data or {}).get("@odata.etag")
    if isinstance(etag, str) and etag:
        return etag
    change_key = getattr(model, "change_key", None)
    return f'W/"{change_key}"' if change_key else ""


def is_removed(model: GraphModel) -> bool:
    """True for a delta entry marked ``@removed``."""
    return "@removed" in (model.additional_data or {})


# ------------------------------------------------------------------ contacts


def contact_from_graph(model: GraphContact) -> Contact:
    emails = model.email_addresses or []
    phones = model.business_phones or []
    address = model.business_address or PhysicalAddress()
    return Contact(
        first_name=_s(model.given_name), last_name=_s(model.surname),
        display_name=_s(model.display_name),
        email=_s(emails[0].address) if emails else "",
        company=_s(model.company_name), job_title=_s(model.job_title),
        business_phone=phones[0] if phones else "", mobile_phone=_s(model.mobile_phone),
        web_page=_s(model.business_home_page),
        street=_s(address.street), city=_s(address.city), state=_s(address.state),
        postal_code=_s(address.postal_code), country=_s(address.country_or_region),
        notes=_s(model.personal_notes),
    )


def contact_to_graph(record: Contact, *, web_page: str | None = None) -> GraphContact:
    """A full contact body (every synced field, so an update clears emptied fields)."""
    address = PhysicalAddress(street=record.street, city=record.city, state=record.state,
                              postal_code=record.postal_code, country_or_region=record.country)
    return GraphContact(
        given_name=record.first_name, surname=record.last_name,
        display_name=record.display_name or " ".join(
            p for p in (record.first_name, record.last_name) if p),
        email_addresses=[EmailAddress(address=record.email, name=record.display_name or None)]
        if record.email else [],
        company_name=record.company, job_title=record.job_title,
        business_phones=[record.business_phone] if record.business_phone else [],
        mobile_phone=record.mobile_phone,
        business_home_page=web_page if web_page is not None else record.web_page,
        business_address=address, personal_notes=record.notes,
    )


_CONTACT_LISTS = ("categories", "businessPhones", "emailAddresses", "singleValueExtendedProperties")


def contact_item_from_json(data: dict[str, Any]) -> MailboxItem[Any] | None:
    """What ``item_from_graph(CONTACT, from_json(data, GraphContact), mailbox)`` gives, read straight
    from Graph's JSON (a create's answer: building the msgraph-sdk model was most of reading it;
    tests hold the two equal). None when a collection is not a JSON array or the address not an
    object: kiota reads such shapes its own way, so the model path reads them."""
    if any(data.get(key) is not None and not isinstance(data[key], list) for key in _CONTACT_LISTS):
        return None
    address = data.get("businessAddress")
    if address is not None and not isinstance(address, dict):
        return None
    item_id = _text(data.get("id"))
    if not item_id:
        raise ValueError("Graph item without id")
    emails = data.get("emailAddresses") or []
    phones = [_text(p) for p in data.get("businessPhones") or []]
    address = address or {}
    record = Contact(
        first_name=_s(_text(data.get("givenName"))), last_name=_s(_text(data.get("surname"))),
        display_name=_s(_text(data.get("displayName"))),
        email=_s(_field(emails[0], "address")) if emails else "",
        company=_s(_text(data.get("companyName"))), job_title=_s(_text(data.get("jobTitle"))),
        business_phone=phones[0] if phones else "",  # type: ignore[arg-type]  # None as the model path gives
        mobile_phone=_s(_text(data.get("mobilePhone"))), web_page=_s(_text(data.get("businessHomePage"))),
        street=_s(_text(address.get("street"))), city=_s(_text(address.get("city"))),
        state=_s(_text(address.get("state"))), postal_code=_s(_text(address.get("postalCode"))),
        country=_s(_text(address.get("countryOrRegion"))), notes=_s(_text(data.get("personalNotes"))),
    )
    modified = data.get("lastModifiedDateTime")
    modified_at = JsonParseNode(modified).get_datetime_value() if modified is not None else None
    return MailboxItem(id=item_id, etag=_etag_of(data), modified_at=_aware(modified_at) or _EPOCH, record=record,
                       stamp=_stamp_of(data.get("singleValueExtendedProperties") or []),
                       categories=tuple(_text(c) for c in data.get("categories") or ()),  # type: ignore[misc]
                       conversation_id="")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _field(entry: Any, key: str) -> str | None:
    return _text(entry.get(key)) if isinstance(entry, dict) else None


def _etag_of(data: dict[str, Any]) -> str:
    etag = data.get("@odata.etag")
    if isinstance(etag, str) and etag:
        return etag
    change_key = _text(data.get("changeKey"))
    return f'W/"{change_key}"' if change_key else ""


def _stamp_of(properties: list[Any]) -> str | None:
    for prop in properties:
        value = _field(prop, "value")
        if _same_property(_field(prop, "id"), STAMP_PROPERTY_ID) and value:
            return value
    return None


def contact_create_json(record: Contact, *, stamp: str | None = None, categories: Sequence[str] = (),
                        web_page: str | None = None) -> dict[str, Any]:
    """The create body ``to_json(record_to_graph(record, ...))`` gives for a contact, built as plain
    JSON: msgraph-sdk's models route every field through a backing store, which made the model
    most of a create's CPU (tests hold the two equal)."""
    display = record.display_name or " ".join(p for p in (record.first_name, record.last_name) if p)
    email: dict[str, Any] = {"address": record.email}
    if record.display_name:
        email["name"] = record.display_name
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.contact", "categories": list(categories),
        "businessAddress": {"city": record.city, "countryOrRegion": record.country,
                            "postalCode": record.postal_code, "state": record.state, "street": record.street},
        "businessHomePage": web_page if web_page is not None else record.web_page,
        "businessPhones": [record.business_phone] if record.business_phone else [],
        "companyName": record.company, "displayName": display,
        "emailAddresses": [email] if record.email else [],
        "givenName": record.first_name, "jobTitle": record.job_title, "mobilePhone": record.mobile_phone,
        "personalNotes": record.notes, "surname": record.last_name,
    }
    if stamp:
        body["singleValueExtendedProperties"] = [{"id": STAMP_PROPERTY_ID, "value": stamp}]
    return body


# ------------------------------------------------------------------ messages


def message_from_graph(model: GraphMessage, mailbox: str) -> EmailMessage:
    """A message; ``incoming`` is true unless the mailbox itself sent it."""
    sender = _address_of(model.from_) or _address_of(model.sender)
    sent_at = _aware(model.sent_date_time) or _aware(model.received_date_time)
    return EmailMessage(
        subject=_s(model.subject), body=_body_text(model.body), from_address=sender,
        to=tuple(_address_of(r) for r in model.to_recipients or ()),
        cc=tuple(_address_of(r) for r in model.cc_recipients or ()),
        bcc=tuple(_address_of(r) for r in model.bcc_recipients or ()),
        sent_at=sent_at,
        incoming=sender.strip().lower() != mailbox.strip().lower(),
        internet_message_id=_s(model.internet_message_id),
    )


def message_to_graph(record: EmailMessage, *, as_received: bool) -> GraphMessage:
    """A message body. ``as_received`` marks it non-draft (PR_MESSAGE_FLAGS) and dates it."""
    message = GraphMessage(
        subject=record.subject, body=_text_body(record.body),
        to_recipients=_recipients(record.to), cc_recipients=_recipients(record.cc),
        bcc_recipients=_recipients(record.bcc),
    )
    if record.from_address:
        message.from_ = Recipient(email_address=EmailAddress(address=record.from_address))
    if record.internet_message_id and as_received:
        message.internet_message_id = record.internet_message_id
    if as_received:
        props = [SingleValueLegacyExtendedProperty(id=MESSAGE_FLAGS_PROPERTY_ID, value="1")]
        sent = _aware(record.sent_at)
        if sent is not None:
            when = sent.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            props += [SingleValueLegacyExtendedProperty(id=CLIENT_SUBMIT_TIME_PROPERTY_ID, value=when),
                      SingleValueLegacyExtendedProperty(id=DELIVERY_TIME_PROPERTY_ID, value=when)]
        message.single_value_extended_properties = props
    return message


# ------------------------------------------------------------------ tasks

_TO_GRAPH_STATUS = {
    TaskStatus.NOT_STARTED: GraphTaskStatus.NotStarted,
    TaskStatus.IN_PROGRESS: GraphTaskStatus.InProgress,
    TaskStatus.COMPLETED: GraphTaskStatus.Completed,
    TaskStatus.WAITING_ON_OTHERS: GraphTaskStatus.WaitingOnOthers,
    TaskStatus.DEFERRED: GraphTaskStatus.Deferred,
}
_FROM_GRAPH_STATUS = {v: k for k, v in _TO_GRAPH_STATUS.items()}
_TO_GRAPH_IMPORTANCE = {
    Importance.LOW: GraphImportance.Low,
    Importance.NORMAL: GraphImportance.Normal,
    Importance.HIGH: GraphImportance.High,
}
_FROM_GRAPH_IMPORTANCE = {v: k for k, v in _TO_GRAPH_IMPORTANCE.items()}


def task_from_graph(model: TodoTask) -> Task:
    status = _FROM_GRAPH_STATUS.get(model.status, TaskStatus.NOT_STARTED) \
        if model.status is not None else TaskStatus.NOT_STARTED
    return Task(
        title=_s(model.title), body=_body_text(model.body), status=status,
        importance=_FROM_GRAPH_IMPORTANCE.get(model.importance, Importance.NORMAL)
        if model.importance is not None else Importance.NORMAL,
        start_at=parse_graph_time(model.start_date_time),
        due_at=parse_graph_time(model.due_date_time),
        completed_at=parse_graph_time(model.completed_date_time),
    )


def task_to_graph(record: Task) -> TodoTask:
    """A To Do task body. A task whose status has no To Do counterpart must not be written."""
    if record.status is None:
        raise ValueError("task status has no To Do counterpart (Draft/Rejected tasks are not synced)")
    task = TodoTask(
        title=record.title, body=_text_body(record.body), status=_TO_GRAPH_STATUS[record.status],
        importance=_TO_GRAPH_IMPORTANCE[record.importance],
        start_date_time=graph_time(record.start_at), due_date_time=graph_time(record.due_at),
    )
    if record.status is TaskStatus.COMPLETED and record.completed_at is not None:
        task.completed_date_time = graph_time(record.completed_at)
    return task


def task_link(stamp: str, web_url: str | None = None) -> LinkedResource:
    """The linkedResource that stamps a To Do task with its ERP id."""
    return LinkedResource(application_name=LINK_APPLICATION, display_name="ERP record",
                          external_id=stamp, web_url=web_url)


# ------------------------------------------------------------------ events


def event_from_graph(model: GraphEvent) -> Event:
    attendees = tuple(
        Attendee(email=_s(a.email_address.address), name=_s(a.email_address.name),
                 required=a.type != AttendeeType.Optional)
        for a in model.attendees or () if a.email_address is not None)
    return Event(
        subject=_s(model.subject), body=_body_text(model.body),
        start=parse_graph_time(model.start), end=parse_graph_time(model.end),
        all_day=bool(model.is_all_day),
        location=_s(model.location.display_name) if model.location else "",
        organizer=_address_of(model.organizer), attendees=attendees,
        cancelled=bool(model.is_cancelled),
    )


def event_to_graph(record: Event) -> GraphEvent:
    """An event body. The organizer is the mailbox owner: Graph sets it, we do not send it."""
    return GraphEvent(
        subject=record.subject, body=_text_body(record.body),
        start=graph_time(record.start), end=graph_time(record.end),
        is_all_day=record.all_day, location=Location(display_name=record.location),
        attendees=[
            GraphAttendee(email_address=EmailAddress(address=a.email, name=a.name or None),
                          type=AttendeeType.Required if a.required else AttendeeType.Optional)
            for a in record.attendees],
    )


# ------------------------------------------------------------------ dispatch


def record_from_graph(record_type: RecordType, model: GraphModel, mailbox: str) -> Record:
    """The domain record of a Graph item of ``record_type``."""
    if record_type is RecordType.CONTACT and isinstance(model, GraphContact):
        return contact_from_graph(model)
    if record_type is RecordType.EMAIL and isinstance(model, GraphMessage):
        return message_from_graph(model, mailbox)
    if record_type is RecordType.TASK and isinstance(model, TodoTask):
        return task_from_graph(model)
    if record_type is RecordType.EVENT and isinstance(model, GraphEvent):
        return event_from_graph(model)
    raise TypeError(f"{type(model).__name__} is not a Graph {record_type.value}")


def record_to_graph(record: Record, *, stamp: str | None = None, categories: Sequence[str] = (),
                    web_page: str | None = None, as_received: bool = True,
                    include_stamp: bool = True) -> GraphModel:
    """The Graph body for ``record`` with categories and (on create) the ERP id stamp."""
    model: GraphModel
    if isinstance(record, Contact):
        model = contact_to_graph(record, web_page=web_page)
    elif isinstance(record, EmailMessage):
        model = message_to_graph(record, as_received=as_received)
    elif isinstance(record, Task):
        model = task_to_graph(record)
    else:
        model = event_to_graph(record)
    model.categories = list(categories)
    if stamp and include_stamp:
        if isinstance(model, TodoTask):
            model.linked_resources = [task_link(stamp, web_page)]
        else:
            model.single_value_extended_properties = [
                *(model.single_value_extended_properties or []), stamp_property(stamp)]
    return model


def item_from_graph(record_type: RecordType, model: GraphModel, mailbox: str) -> MailboxItem[Any]:
    """A Graph item as a MailboxItem envelope."""
    if not model.id:
        raise ValueError("Graph item without id")
    return MailboxItem(
        id=model.id, etag=read_etag(model),
        modified_at=_aware(model.last_modified_date_time) or _EPOCH,
        record=record_from_graph(record_type, model, mailbox),
        stamp=read_stamp(model), categories=tuple(model.categories or ()),
        conversation_id=str(getattr(model, "conversation_id", None) or ""),
    )
