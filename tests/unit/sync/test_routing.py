"""Table-driven tests of the feed's routing table: every branch, and agreement with the scope rules."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.config import ContactFilter
from shared.domain.records import Attendee, Contact, EmailMessage, Event, Record, RecordType, Task
from shared.ports import ErpItem, ErpScope
from shared.scope import in_scope
from shared.sync.routing import (
    DELIVERED,
    Decision,
    Sighting,
    Subscriber,
    audience,
    route,
    sighting_of,
    sighting_of_words,
)

C, E, T, V = RecordType.CONTACT, RecordType.EMAIL, RecordType.TASK, RecordType.EVENT
ALL_TYPES = frozenset(RecordType)
ANN = Subscriber("ann@contoso.test", "EP1", ALL_TYPES)


def seen(record_type: RecordType, *, owners: tuple[str, ...] = (), groups: tuple[str, ...] = (),
         addresses: tuple[str, ...] = ()) -> Sighting:
    return Sighting(record_type, frozenset(owners), frozenset(groups), frozenset(addresses))


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    sighting: Sighting
    subscriber: Subscriber
    decision: Decision


def sub(**changes: Any) -> Subscriber:
    return dataclasses.replace(ANN, **changes)


CASES = [
    Case("a type the mailbox does not sync", seen(T, owners=("ep1",)), sub(types=frozenset({C})), Decision.NOT_SYNCED),
    Case("all filter gets a contact nobody syncs", seen(C, owners=("ep9",)), sub(contact_filter=ContactFilter.ALL),
         Decision.ALL_CONTACTS),
    Case("owner filter gets its own contact", seen(C, owners=("ep1",)), ANN, Decision.OWNER),
    Case("owner ids compare case-insensitively", seen(C, owners=("ep1",)), sub(employee_id=" Ep1 "), Decision.OWNER),
    Case("workgroup filter gets its own contact", seen(C, owners=("ep1",), groups=("west",)),
         sub(contact_filter=ContactFilter.WORKGROUP), Decision.OWNER),
    Case("workgroup filter with known groups gets a group's contact", seen(C, owners=("ep9",), groups=("west",)),
         sub(contact_filter=ContactFilter.WORKGROUP, workgroups=("West",)), Decision.WORKGROUP),
    Case("workgroup filter with unknown groups: the run judges", seen(C, owners=("ep9",), groups=("west",)),
         sub(contact_filter=ContactFilter.WORKGROUP), Decision.WORKGROUP_UNKNOWN),
    Case("workgroup filter, another group's contact", seen(C, owners=("ep9",), groups=("east",)),
         sub(contact_filter=ContactFilter.WORKGROUP, workgroups=("west",)), Decision.NOT_SEEN),
    Case("workgroup filter, a contact of no group", seen(C, owners=("ep9",)),
         sub(contact_filter=ContactFilter.WORKGROUP), Decision.NOT_SEEN),
    Case("owner filter, someone else's contact", seen(C, owners=("ep9",)), ANN, Decision.NOT_SEEN),
    Case("owner filter ignores the workgroup", seen(C, owners=("ep9",), groups=("west",)),
         sub(workgroups=("west",)), Decision.NOT_SEEN),
    Case("an e-mail the employee owns", seen(E, owners=("ep1",)), ANN, Decision.OWNER),
    Case("an e-mail to the mailbox", seen(E, owners=("ep9",), addresses=("ann@contoso.test",)), ANN,
         Decision.ADDRESSED),
    Case("an e-mail between others", seen(E, owners=("ep9",), addresses=("bob@x.test",)), ANN, Decision.NOT_SEEN),
    Case("a task the employee owns", seen(T, owners=("ep1",)), ANN, Decision.OWNER),
    Case("a task naming the mailbox is still someone else's", seen(T, owners=("ep9",), addresses=("ann@contoso.test",)),
         ANN, Decision.NOT_SEEN),
    Case("an event the mailbox attends", seen(V, addresses=("ann@contoso.test",)), ANN, Decision.ATTENDS),
    Case("an event the employee owns but does not attend", seen(V, owners=("ep1",), addresses=("bob@x.test",)),
         ANN, Decision.NOT_SEEN),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_routing_table(case: Case) -> None:
    assert route(case.sighting, case.subscriber) is case.decision


def test_every_branch_is_covered() -> None:
    assert {c.decision for c in CASES} == set(Decision)


def test_audience_keeps_only_the_mailboxes_the_change_concerns() -> None:
    bob = Subscriber("bob@contoso.test", "EP2", ALL_TYPES)
    everyone = Subscriber("all@contoso.test", "EP3", ALL_TYPES, ContactFilter.ALL)
    assert audience(seen(C, owners=("ep2",)), [ANN, bob, everyone]) == ["bob@contoso.test", "all@contoso.test"]
    assert audience(seen(C, owners=("ep7",)), [ANN, bob]) == []  # nobody's contact reaches no owner filter


# ---------------------------------------------------------------- agreement with the scope rules

AT = datetime(2026, 3, 1, tzinfo=UTC)


def item(record: Record, owner: str | None, workgroup: str | None) -> ErpItem[Any]:
    return ErpItem(id="00000000-0000-0000-0000-000000000001", version="v", modified_at=AT, record=record,
                   owner=owner, workgroup=workgroup)


RECORDS: list[Record] = [
    Contact(first_name="A"), Task(title="T"),
    EmailMessage(subject="S", from_address="ann@contoso.test", to=("bob@x.test",)),
    EmailMessage(subject="S", from_address="bob@x.test", to=("cy@x.test",)),
    Event(subject="E", organizer="bob@x.test", attendees=(Attendee(email="ann@contoso.test"),)),
    Event(subject="E", organizer="ann@contoso.test"), Event(subject="E", organizer="bob@x.test"),
]


@pytest.mark.parametrize("record,owner,workgroup,contact_filter,groups", [
    (r, o, w, f, g) for r, o, w, f, g in itertools.product(
        RECORDS, ("EP1", "EP9", None), ("west", None), list(ContactFilter), ((), ("west",), ("east",)))])
def test_a_listed_record_is_delivered_exactly_when_the_scope_can_see_it(
        record: Record, owner: str | None, workgroup: str | None, contact_filter: ContactFilter,
        groups: tuple[str, ...]) -> None:
    record_type = record.KIND
    listed = item(record, owner, workgroup)
    scope = ErpScope(employee_id="EP1", email="ann@contoso.test", workgroups=groups, contact_filter=contact_filter)
    delivered = route(sighting_of(record_type, listed), sub(contact_filter=contact_filter, workgroups=groups))
    if record_type is C and contact_filter is ContactFilter.WORKGROUP and not groups:
        # unknown groups: every contact that might be in scope is delivered (the run's scope check judges)
        assert (delivered in DELIVERED) == (owner == "EP1" or workgroup is not None)
    else:
        assert (delivered in DELIVERED) == in_scope(record_type, listed, scope), delivered


def test_a_push_row_routes_by_any_of_its_words() -> None:
    words = ["c0ffee00-0000-0000-0000-000000000001", "EP2", "Jane Doe"]
    bob = Subscriber("bob@contoso.test", "ep2", ALL_TYPES)
    assert audience(sighting_of_words(C, words), [ANN, bob]) == ["bob@contoso.test"]
    attendee = sighting_of_words(V, ["Planning", "BOB@contoso.test "])
    assert audience(attendee, [ANN, bob]) == ["bob@contoso.test"]
