"""Records: normalization makes equal content hash equal; any content change changes the hash."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.records import Attendee, Contact, EmailMessage, Event, Task, TaskStatus

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


def test_contact_normalization_ignores_whitespace_case_and_derives_display_name() -> None:
    a = Contact(first_name=" Ann ", last_name="Lee", email=" ANN@Contoso.COM ")
    b = Contact(first_name="Ann", last_name="Lee", email="ann@contoso.com", display_name="Ann Lee")
    assert a.content_hash() == b.content_hash()
    assert a.normalized().display_name == "Ann Lee"


@given(text, text)
def test_contact_hash_changes_with_content(first: str, other: str) -> None:
    a, b = Contact(first_name=first), Contact(first_name=other)
    assert (a.content_hash() == b.content_hash()) == (a.normalized() == b.normalized())


def test_email_recipient_order_and_case_do_not_matter() -> None:
    a = EmailMessage(subject="Hi", to=("B@x.com", "a@x.com"), sent_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
    b = EmailMessage(subject="Hi", to=("a@x.com", "b@x.com", "A@X.com"),
                     sent_at=datetime(2026, 1, 1, 13, tzinfo=timezone(timedelta(hours=1))))
    assert a.content_hash() == b.content_hash()
    assert a.addresses() == ("a@x.com", "b@x.com")


def test_email_change_of_recipient_changes_hash() -> None:
    a = EmailMessage(subject="Hi", to=("a@x.com",))
    assert a.content_hash() != dataclasses.replace(a, to=("c@x.com",)).content_hash()


def test_task_completed_date_only_counts_when_completed() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    open_task = Task(title="Call", status=TaskStatus.NOT_STARTED, completed_at=when)
    assert open_task.content_hash() == Task(title="Call", status=TaskStatus.NOT_STARTED).content_hash()
    done = Task(title="Call", status=TaskStatus.COMPLETED, completed_at=when)
    assert done.content_hash() != Task(title="Call", status=TaskStatus.COMPLETED).content_hash()


def test_unsynced_task_status_is_distinct() -> None:
    assert Task(title="x", status=None).content_hash() != Task(title="x").content_hash()


def test_event_attendees_are_a_set_by_address() -> None:
    a = Event(subject="Demo", attendees=(Attendee("b@x.com", "B"), Attendee("A@x.com", "A")))
    b = Event(subject="Demo", attendees=(Attendee("a@x.com", "A"), Attendee("b@x.com", "B")))
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != Event(subject="Demo", attendees=(Attendee("a@x.com", "A"),)).content_hash()


def test_naive_datetimes_are_utc_and_microseconds_ignored() -> None:
    naive = Event(start=datetime(2026, 5, 1, 9, 0, 0, 123456))
    aware = Event(start=datetime(2026, 5, 1, 9, 0, 0, tzinfo=UTC))
    assert naive.content_hash() == aware.content_hash()


def test_field_values_and_with_fields_round_trip() -> None:
    c = Contact(first_name="Ann", city="Oslo")
    changed = c.with_fields({"city": "Bergen"})
    assert changed.field_values()["city"] == "Bergen"
    assert changed.field_values()["first_name"] == "Ann"
