"""Acumatica <-> domain mapping: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.records import Attendee, Contact, EmailMessage, Event, Importance, RecordType, Task, TaskStatus
from shared.erp import mapping
from shared.errors import ValidationFailed

ERP_TO_DOMAIN = [
    ("Open", TaskStatus.NOT_STARTED),
    ("Draft", None),
    ("In Process", TaskStatus.IN_PROGRESS),
    ("Canceled", TaskStatus.COMPLETED),
    ("Completed", TaskStatus.COMPLETED),
    ("Approved", TaskStatus.IN_PROGRESS),
    ("Pending Approval", TaskStatus.WAITING_ON_OTHERS),
    ("Rejected", None),
]


@pytest.mark.parametrize(("erp", "domain"), ERP_TO_DOMAIN)
def test_task_status_table_of_product_section_4(erp: str, domain: TaskStatus | None) -> None:
    assert mapping.task_status_to_domain(erp) is domain


@pytest.mark.parametrize(("domain", "erp"), [
    (TaskStatus.NOT_STARTED, "Open"), (TaskStatus.IN_PROGRESS, "In Process"),
    (TaskStatus.COMPLETED, "Completed"), (TaskStatus.WAITING_ON_OTHERS, "Pending Approval")])
def test_domain_status_written_back_round_trips(domain: TaskStatus, erp: str) -> None:
    assert mapping.task_status_for_erp(domain, None) == erp
    assert mapping.task_status_to_domain(erp) is domain


@pytest.mark.parametrize(("current", "domain", "written"), [
    ("Approved", TaskStatus.IN_PROGRESS, "Approved"),      # already maps to inProgress: kept
    ("Canceled", TaskStatus.COMPLETED, "Canceled"),
    ("Approved", TaskStatus.COMPLETED, "Completed"),
    ("Open", TaskStatus.IN_PROGRESS, "In Process"),
    ("In Process", TaskStatus.IN_PROGRESS, "In Process"),
])
def test_write_back_keeps_an_erp_status_that_already_maps(current: str, domain: TaskStatus, written: str) -> None:
    assert mapping.task_status_for_erp(domain, current) == written


def test_deferred_and_unsynced_statuses_never_change_the_erp() -> None:
    assert mapping.task_status_for_erp(TaskStatus.DEFERRED, "Open") is None
    assert mapping.task_status_for_erp(None, "Draft") is None
    body = mapping.task_from_domain(Task(title="x", status=TaskStatus.DEFERRED), current_status="Open")
    assert "Status" not in body
    assert mapping.task_status_to_domain("Something new") is None


def test_contact_round_trip_and_fields() -> None:
    contact = Contact(first_name="Ann", last_name="Lee", email="Ann@Example.com", company="Contoso",
                      job_title="CEO", business_phone="1", mobile_phone="2", web_page="https://x.example",
                      street="1 Main", city="Oslo", state="", postal_code="0150", country="NO", notes="vip")
    body = mapping.contact_from_domain(contact, owner="EP1", contact_class="LEAD", origin="k1")
    assert body["Owner"] == {"value": "EP1"} and body["ContactClass"] == {"value": "LEAD"}
    assert body["ExtRefNbr"] == {"value": "k1"} and "DisplayName" not in body
    served = {**body, "id": "A1B2", "DisplayName": {"value": "Ann Lee"},
              "LastModifiedDateTime": {"value": "2026-03-02T09:30:00.123+00:00"}}
    item = mapping.item_from_entity(RecordType.CONTACT, served)
    assert item.id == "a1b2" and item.origin == "k1" and item.owner == "EP1" and item.contact_class == "LEAD"
    assert item.record.normalized() == contact.normalized()
    assert item.version == "2026-03-02T09:30:00.123+00:00"


def test_entity_without_version_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        mapping.item_from_entity(RecordType.CONTACT, {"id": "x"})


def test_email_addresses_note_meta_and_link() -> None:
    email = EmailMessage(subject="Hi", body="b", from_address="a@x.com", to=("b@x.com", "c@x.com"),
                         sent_at=datetime(2026, 3, 2, 9, 30, 1, 999000, tzinfo=UTC), incoming=False,
                         internet_message_id="<m1@x>")
    body = mapping.email_from_domain(email, related_contact="C1", origin="o1", current_note="keep me")
    assert body["To"] == {"value": "b@x.com; c@x.com"} and body["MailStatus"] == {"value": "Processed"}
    assert body["RelatedEntityType"] == {"value": "PX.Objects.CR.Contact"}
    assert mapping.meta_from_note(body["note"]["value"]) == {"origin": "o1", "message_id": "<m1@x>"}
    assert body["note"]["value"].startswith("keep me")
    served = {**body, "id": "E1", "LastModifiedDateTime": {"value": "2026-03-02T09:31:00+00:00"},
              "RelatedEntityNoteID": {"value": "C1"}}
    item = mapping.item_from_entity(RecordType.EMAIL, served)
    assert item.related_contacts == ("c1",) and item.origin == "o1"
    assert item.record.normalized() == email.normalized()
    assert mapping.split_addresses("Ann <A@x.com>; b@y.com, ") == ("A@x.com", "b@y.com")


def test_event_organizer_attendee_lines_and_cancel() -> None:
    event = Event(subject="S", start=datetime(2026, 3, 2, 9, tzinfo=UTC), end=datetime(2026, 3, 2, 10, tzinfo=UTC),
                  organizer="boss@x.com", attendees=(Attendee("a@x.com", "A"), Attendee("b@x.com", "B")),
                  cancelled=True)
    current = [{"id": "L1", **mapping.wrap({"Email": "a@x.com", "Name": "A"})},
               {"id": "L2", **mapping.wrap({"Email": "gone@x.com"})}]
    body = mapping.event_from_domain(event, current_status="Open", current_attendees=current)
    lines = body["Attendees"]
    assert {"id": "L2", "delete": True} in lines
    kept = next(line for line in lines if line.get("id") == "L1")
    assert kept["Email"] == {"value": "a@x.com"}
    added = [mapping.text(line, "Email") for line in lines if "id" not in line]
    assert sorted(added) == ["b@x.com", "boss@x.com"]
    assert body["Status"] == {"value": "Canceled"}
    served = {**body, "Attendees": [line for line in lines if not line.get("delete")]}
    assert mapping.event_to_domain(served).normalized() == event.normalized()
    reopened = mapping.event_from_domain(event.with_fields({"cancelled": False}), current_status="Canceled")
    assert reopened["Status"] == {"value": "Open"}
    completed = mapping.event_from_domain(event.with_fields({"cancelled": False}), current_status="Completed")
    assert "Status" not in completed


def test_task_fields() -> None:
    task = Task(title="T", body="B", status=TaskStatus.COMPLETED, importance=Importance.LOW,
                due_at=datetime(2026, 3, 5, tzinfo=UTC), completed_at=datetime(2026, 3, 4, tzinfo=UTC))
    body = mapping.task_from_domain(task, current_status="Canceled", owner="EP1")
    assert body["Status"] == {"value": "Canceled"} and body["Priority"] == {"value": "Low"}
    assert mapping.task_to_domain(body).normalized() == task.normalized()


def test_attachment_meta_and_file_names() -> None:
    meta = mapping.attachment_meta("report.pdf", b"%PDF")
    assert meta.size == 4 and meta.content_type == "application/pdf" and len(meta.content_hash) == 64
    assert mapping.file_name({"filename": "Email (x)\\report.pdf"}) == "report.pdf"
