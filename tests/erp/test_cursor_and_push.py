"""Change cursor encoding and push notification parsing."""

from __future__ import annotations

import uuid

import pytest

from shared.domain.records import RecordType
from shared.erp import cursor as cursor_module
from shared.erp.cursor import ChangeCursor, cap_seen
from shared.erp.push import parse_push
from shared.errors import SyncStateLost, ValidationFailed
from shared.ports import Removed


def test_cursor_round_trip_and_size() -> None:
    seen = {str(uuid.uuid4()): 1_780_000_000_000_000 + i for i in range(500)}
    cursor = ChangeCursor(since=1_780_000_000_000_000, seen=seen, quiet_before=5)
    text = cursor.encode()
    assert ChangeCursor.decode(text) == cursor
    assert len(text) < 30_000  # fits one Table Storage string property
    mid = ChangeCursor(since=None, skip=40, tail=("a",), next_since=7, next_seen={str(uuid.uuid4()): 9})
    assert ChangeCursor.decode(mid.encode()) == mid and ChangeCursor.decode(mid.encode()).in_run


@pytest.mark.parametrize("bad", ["not-a-cursor", "eJzLSM3JyQcABiwCFQ"])
def test_foreign_cursor_means_sync_state_lost(bad: str) -> None:
    with pytest.raises(SyncStateLost):
        ChangeCursor.decode(bad)


def test_push_update_delete_and_leaving_rows() -> None:
    update = parse_push({"Inserted": [{"NoteID": "A"}], "Deleted": [{"NoteID": "A"}], "Query": "Contact",
                         "CompanyId": "Company", "Id": "t1", "TimeStamp": 5, "AdditionalInfo": {}})
    assert update.record_type is RecordType.CONTACT and update.removed == () and update.changed == ("a",)
    delete = parse_push({"Inserted": [], "Deleted": [{"NoteID": "B"}, {"id": "C"}], "Query": "Task", "Id": "t2",
                         "TimeStamp": 6})
    assert delete.removed == (Removed("b"), Removed("c")) and delete.timestamp == 6
    custom = parse_push({"Inserted": [], "Deleted": [{"NoteID": "D"}], "Query": "exsync-events"},
                        {"exsync-events": RecordType.EVENT})
    assert custom.record_type is RecordType.EVENT
    assert parse_push({"Inserted": [], "Deleted": [], "Query": "Other"}).record_type is None
    with pytest.raises(ValidationFailed):
        parse_push({"Inserted": "x"})


def test_cap_keeps_the_newest_and_raises_the_watermark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cursor_module, "MAX_SEEN", 3)
    seen = {f"id{i}": 100 + i for i in range(5)}
    kept, since = cap_seen(seen, 50)
    assert kept == {"id2": 102, "id3": 103, "id4": 104} and since == 101
    assert cap_seen({"a": 1}, 7) == ({"a": 1}, 7)
