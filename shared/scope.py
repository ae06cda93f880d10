"""Which ERP records belong to a mailbox (the ``ErpScope`` rules of :mod:`shared.ports`), as a pure check.

The engine uses it to tell a record that left the scope (unlink, never delete) from one that
was deleted; the ERP adapters use it to answer listings. It sits below the engine (layers in
``pyproject.toml``), so adapters share the rule without importing the engine.
"""

from __future__ import annotations

from typing import Any

from shared.domain.config import ContactFilter
from shared.domain.records import EmailMessage, Event, RecordType
from shared.ports import ErpItem, ErpScope


def in_scope(record_type: RecordType, item: ErpItem[Any], scope: ErpScope,
             workgroups: tuple[str, ...] = ()) -> bool:
    """Whether ``item`` is in ``scope``; ``workgroups`` stands in when ``scope.workgroups`` is empty."""
    if scope.everyone:
        return True
    record = item.record
    email = scope.email.strip().lower()
    if record_type is RecordType.CONTACT:
        if scope.contact_filter is ContactFilter.ALL:
            return True
        if scope.contact_filter is ContactFilter.OWNER:
            return item.owner == scope.employee_id
        groups = scope.workgroups or workgroups
        # a workgroup filter still sees the contacts the employee owns (those exsync imported)
        return item.owner == scope.employee_id or (item.workgroup is not None and item.workgroup in groups)
    if record_type is RecordType.EMAIL:
        return item.owner == scope.employee_id or (isinstance(record, EmailMessage)
                                                     and email in record.addresses())
    if record_type is RecordType.TASK:
        return item.owner == scope.employee_id
    if not isinstance(record, Event):
        return False
    normalized = record.normalized()
    return normalized.organizer == email or any(a.email == email for a in normalized.attendees)


def scope_known(record_type: RecordType, scope: ErpScope) -> bool:
    """Whether :func:`in_scope` can decide alone: a workgroup filter without the employee's
    workgroups (the gateway looks them up) cannot; then the ERP listing is the judge."""
    return not (record_type is RecordType.CONTACT and scope.contact_filter is ContactFilter.WORKGROUP
                and not scope.workgroups)
