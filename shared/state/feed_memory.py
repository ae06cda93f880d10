"""The in-memory twin's rows of the tenant ERP feed (mixed into :class:`shared.state.memory.InMemoryStateStore`).

Same semantics as :mod:`shared.state.feed_table` (:mod:`shared.state.feed_rows`); both pass the
feed tests of ``tests/contract/test_state_store.py``. Faults: ``fail_next`` works on these methods
as on every other store method.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from shared.domain.records import RecordType
from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.ports import RoutedChange, Stored
from shared.state import feed_rows, keys, rules

FEED_METHODS = ("get_feed_cursor", "list_feed_cursors", "put_feed_cursor", "put_routed", "list_routed",
                "list_mailbox_routed", "delete_routed")
"""The feed methods ``InMemoryStateStore.fail_next`` can make fail."""


def _etag() -> str:
    return f'W/"{uuid.uuid4().hex}"'


class MemoryFeedRows:
    """Feed cursors per record type and routed changes per (mailbox, type) in dictionaries."""

    _faults: dict[str, list[BaseException]]

    def _feed_init(self) -> None:
        self._feed_cursors: dict[RecordType, Stored[str]] = {}
        self._routed: dict[tuple[str, RecordType], dict[str, RoutedChange]] = {}

    def _feed_fault(self, name: str) -> None:
        pending = self._faults.get(name)
        if pending:
            raise pending.pop(0)

    async def get_feed_cursor(self, record_type: RecordType) -> Stored[str] | None:
        self._feed_fault("get_feed_cursor")
        return self._feed_cursors.get(record_type)

    async def list_feed_cursors(self) -> dict[RecordType, Stored[str]]:
        self._feed_fault("list_feed_cursors")
        return dict(self._feed_cursors)

    async def put_feed_cursor(self, record_type: RecordType, value: str, etag: str | None = None) -> str:
        self._feed_fault("put_feed_cursor")
        current = self._feed_cursors.get(record_type)
        if etag is None and current is not None:
            raise AlreadyExists(f"the {record_type} feed cursor already exists; read it and pass its etag")
        if etag is not None and (current is None or current.etag != etag):
            raise ConcurrencyConflict(f"the {record_type} feed cursor changed since it was read; read it again")
        stored = Stored(value, _etag())
        self._feed_cursors[record_type] = stored
        return stored.etag

    async def put_routed(self, changes: Sequence[RoutedChange]) -> None:
        self._feed_fault("put_routed")
        feed_rows.check_changes(changes)
        for change in changes:
            rows = self._routed.setdefault((rules.mailbox_key(change.mailbox), change.record_type), {})
            rows[change.erp_id] = dataclasses.replace(change, mailbox=rules.mailbox_key(change.mailbox),
                                                      etag=_etag())

    async def list_routed(self, mailbox: str, record_type: RecordType, limit: int,
                          after: str | None = None) -> list[RoutedChange]:
        self._feed_fault("list_routed")
        feed_rows.check_limit(limit)
        rows = self._routed.get((rules.mailbox_key(mailbox), record_type), {})
        start = None if after is None else keys.key(after)
        return [rows[k] for k in sorted(rows, key=keys.key) if start is None or keys.key(k) > start][:limit]

    async def list_mailbox_routed(self, mailbox: str, limit: int) -> list[RoutedChange]:
        self._feed_fault("list_mailbox_routed")
        feed_rows.check_limit(limit)
        out: list[RoutedChange] = []
        for record_type in sorted(RecordType, key=lambda t: t.value):
            rows = self._routed.get((rules.mailbox_key(mailbox), record_type), {})
            out += [rows[k] for k in sorted(rows, key=keys.key)]
        return out[:limit]

    async def delete_routed(self, changes: Sequence[RoutedChange]) -> None:
        self._feed_fault("delete_routed")
        for change in changes:
            rows = self._routed.get((rules.mailbox_key(change.mailbox), change.record_type), {})
            current = rows.get(change.erp_id)
            if current is not None and (change.etag is None or current.etag == change.etag):
                del rows[change.erp_id]
