"""Which mailboxes an ERP change concerns: the tenant feed's (and the ERP push intake's) pure routing table.

One incremental ERP listing per record type serves the whole tenant (:mod:`shared.sync.feed`);
each listed record goes only to the mailboxes whose scope can see it. :func:`route` is a flat
decision table, one :class:`Decision` per branch with a comment saying why; it follows the scope
rules of :func:`shared.scope.in_scope` (``tests/unit/sync/test_routing.py`` checks both agree) and
errs on the side of delivering: a mailbox whose scope cannot be decided here (a workgroup filter:
the employee's workgroups are the ERP's to say) gets the change and its run's own scope check
judges it. A delivered change that turns out out of scope costs that mailbox one look-up; a change
not delivered would be lost, so the table never guesses "no" where the scope might say "yes".

The input is a :class:`Sighting`: what a listing or a push row shows of a record. A listed record
gives exact owner, workgroup and addresses; a push row (any columns of the ERP's query) gives only
its words, which stand for all three.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from shared.domain.config import ContactFilter
from shared.domain.records import EmailMessage, Event, RecordType
from shared.ports import ErpItem


@dataclasses.dataclass(frozen=True, slots=True)
class Sighting:
    """What the feed (or a push) saw of one record; every value lower-case."""

    record_type: RecordType
    owners: frozenset[str] = frozenset()
    workgroups: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True, slots=True)
class Subscriber:
    """A mailbox as routing sees it: who it is, the types it syncs and its contact filter."""

    email: str
    employee_id: str
    types: frozenset[RecordType]
    contact_filter: ContactFilter = ContactFilter.OWNER
    workgroups: tuple[str, ...] = ()
    """The employee's workgroups when known (empty: unknown, the ERP knows them)."""


class Decision(StrEnum):
    NOT_SYNCED = "not_synced"
    ALL_CONTACTS = "all_contacts"
    OWNER = "owner"
    WORKGROUP = "workgroup"
    WORKGROUP_UNKNOWN = "workgroup_unknown"
    ADDRESSED = "addressed"
    ATTENDS = "attends"
    NOT_SEEN = "not_seen"


DELIVERED = frozenset({Decision.ALL_CONTACTS, Decision.OWNER, Decision.WORKGROUP, Decision.WORKGROUP_UNKNOWN,
                       Decision.ADDRESSED, Decision.ATTENDS})


def route(sighting: Sighting, subscriber: Subscriber) -> Decision:
    """The branch of the routing table that decides whether ``subscriber`` gets the change."""
    record_type = sighting.record_type
    owner = subscriber.employee_id.strip().lower() in sighting.owners
    if record_type not in subscriber.types:
        return Decision.NOT_SYNCED           # the mailbox does not sync this type at all
    if record_type is RecordType.CONTACT:
        if subscriber.contact_filter is ContactFilter.ALL:
            return Decision.ALL_CONTACTS     # an "all" filter sees every contact of the tenant
        if owner:
            return Decision.OWNER            # owner and workgroup filters both see the employee's own
        if subscriber.contact_filter is ContactFilter.WORKGROUP and sighting.workgroups:
            if not subscriber.workgroups:
                return Decision.WORKGROUP_UNKNOWN  # the ERP knows the employee's groups: the run judges
            groups = {g.strip().lower() for g in subscriber.workgroups}
            if groups & sighting.workgroups:
                return Decision.WORKGROUP    # a contact of one of the employee's workgroups
        return Decision.NOT_SEEN             # someone else's contact, outside the filter
    if owner and record_type in (RecordType.EMAIL, RecordType.TASK):
        return Decision.OWNER                # e-mail activities and tasks the employee owns
    if record_type is RecordType.EMAIL and subscriber.email in sighting.addresses:
        return Decision.ADDRESSED            # the mailbox is among from / to / cc / bcc
    if record_type is RecordType.EVENT and subscriber.email in sighting.addresses:
        return Decision.ATTENDS              # the mailbox organizes or attends the event
    return Decision.NOT_SEEN                 # nothing of the record names this mailbox


def audience(sighting: Sighting, subscribers: Iterable[Subscriber]) -> list[str]:
    """The mailboxes that get the change, in the order given."""
    return [s.email for s in subscribers if route(sighting, s) in DELIVERED]


def _lower(values: Iterable[str | None]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v and v.strip())


def sighting_of(record_type: RecordType, item: ErpItem[Any]) -> Sighting:
    """A listed record: its owner, workgroup and the addresses its scope rule reads."""
    record = item.record
    addresses: Sequence[str] = ()
    if isinstance(record, EmailMessage):
        addresses = record.addresses()
    elif isinstance(record, Event):
        normalized = record.normalized()
        addresses = (normalized.organizer, *(a.email for a in normalized.attendees))
    return Sighting(record_type, _lower([item.owner]), _lower([item.workgroup]), _lower(addresses))


def sighting_of_words(record_type: RecordType, words: Iterable[str]) -> Sighting:
    """A push row: any of its words may be the owner, the workgroup or an address."""
    found = _lower(words)
    return Sighting(record_type, found, found, found)
