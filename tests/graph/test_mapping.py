"""Graph <-> domain mapping on payloads shaped like the examples in Microsoft's Graph docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from msgraph.generated.models.contact import Contact as GraphContact
from msgraph.generated.models.event import Event as GraphEvent
from msgraph.generated.models.message import Message as GraphMessage
from msgraph.generated.models.todo_task import TodoTask

from shared.domain.records import (
    Attendee,
    Contact,
    EmailMessage,
    Event,
    Importance,
    RecordType,
    Task,
    TaskStatus,
)
from shared.graph import mapping
from shared.graph.wire import from_json, to_json

CONTACT = {  # "Get contact" response (learn.microsoft.com/graph/api/contact-get), trimmed
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/contacts/$entity",
    "@odata.etag": 'W/"EQAAABYAAAC4ofQHEIqCSbQPot83AFcbAAAW/oaM"',
    "id": "AAMkAGI2THk0AAA=",
    "createdDateTime": "2017-02-28T23:54:15Z",
    "lastModifiedDateTime": "2017-03-01T00:19:11Z",
    "changeKey": "EQAAABYAAAC4ofQHEIqCSbQPot83AFcbAAAW/oaM",
    "categories": ["ERP"],
    "parentFolderId": "AAMkAGI2TKI5AAA=",
    "fileAs": "",
    "displayName": "Pavel Bansky",
    "givenName": "Pavel",
    "surname": "Bansky",
    "jobTitle": "Sales Manager",
    "companyName": "Contoso",
    "businessHomePage": "https://erp.contoso.com/contact/42",
    "personalNotes": "Prefers phone",
    "emailAddresses": [{"address": "pavelb@contoso.onmicrosoft.com", "name": "Pavel Bansky"}],
    "businessPhones": ["+1 732 555 0102"],
    "mobilePhone": "+1 732 555 0199",
    "homePhones": [],
    "businessAddress": {"street": "123 Some Street", "city": "Seattle", "state": "WA",
                        "countryOrRegion": "USA", "postalCode": "98121"},
    "singleValueExtendedProperties": [
        {"id": mapping.STAMP_PROPERTY_ID, "value": "b6f4b1a0-0000-0000-0000-000000000001"}],
}

MESSAGE = {  # "Get message" response (message-get), trimmed
    "@odata.etag": 'W/"CQAAABYAAAC4ofQHEIqCSbQPot83AFcbAAAW/oaM"',
    "id": "AAMkAGI1AAAoZCfHAAA=",
    "createdDateTime": "2017-04-25T04:35:24Z",
    "lastModifiedDateTime": "2017-04-25T04:35:25Z",
    "changeKey": "CQAAABYAAAC4ofQHEIqCSbQPot83AFcbAAAW/oaM",
    "categories": [],
    "receivedDateTime": "2017-04-25T04:35:24Z",
    "sentDateTime": "2017-04-25T04:35:23Z",
    "hasAttachments": False,
    "internetMessageId": "<MWHPR130MB0334@MWHPR130MB0334.namprd13.prod.outlook.com>",
    "subject": "Welcome to Contoso",
    "body": {"contentType": "html",
             "content": "<html><body><p>Hello&nbsp;Megan,<br>welcome &amp; enjoy</p></body></html>"},
    "sender": {"emailAddress": {"name": "Pavel Bansky", "address": "pavelb@contoso.onmicrosoft.com"}},
    "from": {"emailAddress": {"name": "Pavel Bansky", "address": "PavelB@contoso.onmicrosoft.com"}},
    "toRecipients": [{"emailAddress": {"name": "Megan Bowen", "address": "meganb@contoso.onmicrosoft.com"}}],
    "ccRecipients": [{"emailAddress": {"address": "alex@contoso.onmicrosoft.com"}}],
    "bccRecipients": [],
    "isDraft": False,
}

EVENT = {  # "Get event" response (event-get) with Prefer outlook.timezone="UTC", trimmed
    "@odata.etag": 'W/"ZlnW4RIAV06KYYwlrfNZvQAALfZeRQ=="',
    "id": "AAMkAGIAAAoZDOFAAA=",
    "lastModifiedDateTime": "2017-04-21T10:00:00.0000000Z",
    "changeKey": "ZlnW4RIAV06KYYwlrfNZvQAALfZeRQ==",
    "categories": [],
    "subject": "Orientation ",
    "body": {"contentType": "text", "content": "Dana, this is the time you selected for our orientation."},
    "start": {"dateTime": "2017-04-21T10:00:00.0000000", "timeZone": "UTC"},
    "end": {"dateTime": "2017-04-21T12:00:00.0000000", "timeZone": "UTC"},
    "isAllDay": False,
    "isCancelled": False,
    "location": {"displayName": "Assembly Hall", "locationType": "default"},
    "attendees": [
        {"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
         "emailAddress": {"name": "Samantha Booth", "address": "samanthab@contoso.onmicrosoft.com"}},
        {"type": "optional", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
         "emailAddress": {"name": "Dana Swope", "address": "danas@contoso.onmicrosoft.com"}},
    ],
    "organizer": {"emailAddress": {"name": "Dana Swope", "address": "danas@contoso.onmicrosoft.com"}},
}

TODO_TASK = {  # "Get todoTask" response (todotask-get) with a linked resource, trimmed
    "@odata.etag": 'W/"xzyPKP0BiUGgld+lMKXwbQAAgdhkVw=="',
    "importance": "low",
    "isReminderOn": False,
    "status": "inProgress",
    "title": "Linked entity new task 1",
    "createdDateTime": "2020-07-08T11:15:19.9359889Z",
    "lastModifiedDateTime": "2020-07-08T11:15:20.0614375Z",
    "id": "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AxyzPKP0BiUGgld-lMKXwbQAAgdcSbAAA",
    "body": {"content": "Call the supplier", "contentType": "text"},
    "dueDateTime": {"dateTime": "2020-07-10T00:00:00.0000000", "timeZone": "UTC"},
    "linkedResources": [{"id": "f9cddce2-dce2-f9cd-e2dc-cdf9e2dccdf9", "webUrl": "http://microsoft.com",
                         "applicationName": "exsync", "displayName": "ERP record",
                         "externalId": "erp-task-7"}],
}


def test_contact_from_graph_document_example() -> None:
    model = from_json(CONTACT, GraphContact)
    item = mapping.item_from_graph(RecordType.CONTACT, model, "megan@contoso.test")
    assert item.id == "AAMkAGI2THk0AAA="
    assert item.etag == CONTACT["@odata.etag"]
    assert item.modified_at == datetime(2017, 3, 1, 0, 19, 11, tzinfo=UTC)
    assert item.stamp == "b6f4b1a0-0000-0000-0000-000000000001"
    assert item.categories == ("ERP",)
    assert item.record == Contact(
        first_name="Pavel", last_name="Bansky", display_name="Pavel Bansky",
        email="pavelb@contoso.onmicrosoft.com", company="Contoso", job_title="Sales Manager",
        business_phone="+1 732 555 0102", mobile_phone="+1 732 555 0199",
        web_page="https://erp.contoso.com/contact/42", street="123 Some Street", city="Seattle",
        state="WA", postal_code="98121", country="USA", notes="Prefers phone")


def test_contact_round_trip_through_the_wire() -> None:
    record = Contact(first_name="Ann", last_name="Lee", email="ann@fabrikam.test", company="Fabrikam",
                     business_phone="1", city="Oslo", notes="n")
    body = to_json(mapping.record_to_graph(record, stamp="erp-9", categories=("ERP",)))
    assert body["givenName"] == "Ann" and body["categories"] == ["ERP"]
    assert body["singleValueExtendedProperties"] == [{"id": mapping.STAMP_PROPERTY_ID, "value": "erp-9"}]
    back = mapping.contact_from_graph(from_json({**body, "id": "x"}, GraphContact))
    assert back.normalized() == record.normalized()


def test_contact_web_page_override_is_the_erp_hyperlink() -> None:
    body = to_json(mapping.record_to_graph(Contact(first_name="A"), web_page="https://erp/x"))
    assert body["businessHomePage"] == "https://erp/x"


def test_message_from_graph_document_example() -> None:
    model = from_json(MESSAGE, GraphMessage)
    record = mapping.message_from_graph(model, "meganb@contoso.onmicrosoft.com")
    assert record.subject == "Welcome to Contoso"
    assert record.body == "Hello Megan,\nwelcome & enjoy"
    assert record.from_address == "PavelB@contoso.onmicrosoft.com"
    assert record.to == ("meganb@contoso.onmicrosoft.com",)
    assert record.cc == ("alex@contoso.onmicrosoft.com",)
    assert record.sent_at == datetime(2017, 4, 25, 4, 35, 23, tzinfo=UTC)
    assert record.incoming is True
    assert record.internet_message_id.startswith("<MWHPR130MB0334")


def test_message_sent_by_the_mailbox_is_outgoing() -> None:
    model = from_json(MESSAGE, GraphMessage)
    assert mapping.message_from_graph(model, "pavelb@contoso.onmicrosoft.com").incoming is False


def test_received_message_body_is_not_a_draft() -> None:
    sent = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    record = EmailMessage(subject="Hi", body="text", from_address="x@y.test", to=("a@b.test",), sent_at=sent,
                          internet_message_id="<1@y.test>")
    body = to_json(mapping.record_to_graph(record, stamp="erp-1", as_received=True))
    props = {p["id"]: p["value"] for p in body["singleValueExtendedProperties"]}
    assert props[mapping.MESSAGE_FLAGS_PROPERTY_ID] == "1"
    assert props[mapping.CLIENT_SUBMIT_TIME_PROPERTY_ID] == "2024-05-01T08:30:00Z"
    assert props[mapping.STAMP_PROPERTY_ID] == "erp-1"
    assert body["body"] == {"contentType": "text", "content": "text"}
    assert body["from"] == {"emailAddress": {"address": "x@y.test"}}
    assert body["internetMessageId"] == "<1@y.test>"
    outgoing = to_json(mapping.record_to_graph(record, as_received=False))
    assert "singleValueExtendedProperties" not in outgoing


def test_event_from_graph_document_example() -> None:
    model = from_json(EVENT, GraphEvent)
    record = mapping.event_from_graph(model)
    assert record == Event(
        subject="Orientation ", body="Dana, this is the time you selected for our orientation.",
        start=datetime(2017, 4, 21, 10, tzinfo=UTC), end=datetime(2017, 4, 21, 12, tzinfo=UTC),
        location="Assembly Hall", organizer="danas@contoso.onmicrosoft.com",
        attendees=(Attendee("samanthab@contoso.onmicrosoft.com", "Samantha Booth", True),
                   Attendee("danas@contoso.onmicrosoft.com", "Dana Swope", False)))


def test_event_round_trip_and_no_organizer_on_the_wire() -> None:
    start = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)  # across a DST change in Europe
    record = Event(subject="S", body="B", start=start, end=start + timedelta(hours=2), location="L",
                   attendees=(Attendee("a@b.test", "A", False),), organizer="me@x.test")
    body = to_json(mapping.record_to_graph(record, categories=("ERP",)))
    assert "organizer" not in body
    assert body["start"] == {"dateTime": "2025-03-30T00:30:00", "timeZone": "UTC"}
    back = mapping.event_from_graph(from_json({**body, "id": "x"}, GraphEvent))
    assert back.normalized() == Event(**{**record.normalized().field_values(), "organizer": ""}).normalized()


def test_event_time_in_a_named_zone_is_converted_to_utc() -> None:
    model = from_json({**EVENT, "start": {"dateTime": "2024-07-01T09:00:00.0000000",
                                          "timeZone": "Europe/Berlin"}}, GraphEvent)
    assert mapping.event_from_graph(model).start == datetime(2024, 7, 1, 7, tzinfo=UTC)


def test_todo_task_from_graph_document_example() -> None:
    model = from_json(TODO_TASK, TodoTask)
    item = mapping.item_from_graph(RecordType.TASK, model, "x@y.test")
    assert item.stamp == "erp-task-7"
    assert item.etag == TODO_TASK["@odata.etag"]
    assert item.record == Task(title="Linked entity new task 1", body="Call the supplier",
                               status=TaskStatus.IN_PROGRESS, importance=Importance.LOW,
                               due_at=datetime(2020, 7, 10, tzinfo=UTC))


def test_task_stamp_is_a_linked_resource() -> None:
    record = Task(title="T", status=TaskStatus.COMPLETED, completed_at=datetime(2024, 1, 2, tzinfo=UTC))
    body = to_json(mapping.record_to_graph(record, stamp="erp-5", categories=("ERP",)))
    assert body["linkedResources"][0]["externalId"] == "erp-5"
    assert body["linkedResources"][0]["applicationName"] == mapping.LINK_APPLICATION
    assert "singleValueExtendedProperties" not in body
    assert body["status"] == "completed"
    assert body["completedDateTime"] == {"dateTime": "2024-01-02T00:00:00", "timeZone": "UTC"}
    back = mapping.task_from_graph(from_json({**body, "id": "x"}, TodoTask))
    assert back.normalized() == record.normalized()


def test_task_without_to_do_status_is_refused() -> None:
    with pytest.raises(ValueError, match="no To Do counterpart"):
        mapping.record_to_graph(Task(title="draft", status=None))


def test_removed_entries_and_etag_fallback() -> None:
    removed = from_json({"id": "gone", "@removed": {"reason": "deleted"}}, GraphContact)
    assert mapping.is_removed(removed)
    plain = from_json({"id": "a", "changeKey": "ck1"}, GraphContact)
    assert not mapping.is_removed(plain)
    assert mapping.read_etag(plain) == 'W/"ck1"'


def test_stamp_filter_quotes_values() -> None:
    text = mapping.stamp_filter("o'brien")
    assert "ep/value eq 'o''brien'" in text
    assert mapping.STAMP_PROPERTY_ID in text


def test_fast_entity_fields_match_msgraph_sdk() -> None:
    from msgraph.generated.models.entity import Entity

    from shared.graph import speedups

    assert speedups.install()
    stock, fast = Entity(), Entity()
    stock_fields, fast_fields = speedups.ORIGINAL(stock), Entity.get_field_deserializers(fast)
    assert set(stock_fields) == set(fast_fields) == {"id", "@odata.type"}

    class Node:
        def get_str_value(self) -> str:
            return "v"

    for key in stock_fields:
        stock_fields[key](Node())
        fast_fields[key](Node())
    assert (stock.id, stock.odata_type) == (fast.id, fast.odata_type) == ("v", "v")
