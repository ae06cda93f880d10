"""Transaction planning: ≤ 100 operations, one partition, groups kept whole, payload bounded."""

from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.state import batch


def op(partition: str = "p", row: str = "r", size: int = 0) -> batch.Operation:
    return ("create", {"PartitionKey": partition, "RowKey": row, "d0": "x" * size}, {})


def test_250_single_operations_split_100_100_50() -> None:
    plan = batch.plan([[op(row=str(i))] for i in range(250)])
    assert [len(t) for t in plan] == [100, 100, 50]
    assert [o[1]["RowKey"] for t in plan for o in t] == [str(i) for i in range(250)]


def test_groups_are_never_split() -> None:
    plan = batch.plan([[op(row=f"{i}a"), op(row=f"{i}b"), op(row=f"{i}c")] for i in range(70)])
    assert [len(t) for t in plan] == [99, 99, 12]
    for transaction in plan:
        rows = [o[1]["RowKey"] for o in transaction]
        assert len(rows) % 3 == 0
        assert all(rows[j].endswith("a") and rows[j + 2] == rows[j][:-1] + "c" for j in range(0, len(rows), 3))


def test_mixed_partitions_are_rejected_naming_the_operation() -> None:
    with pytest.raises(ValidationFailed) as caught:
        batch.plan([[op("p")], [op("p")], [op("q")]])
    assert "operations[2].PartitionKey" in caught.value.errors


def test_payload_size_splits_transactions() -> None:
    plan = batch.plan([[op(row=str(i), size=200_000)] for i in range(10)])
    assert all(sum(batch.weight(o) for o in t) <= 3_500_000 or len(t) == 1 for t in plan)
    assert len(plan) > 1 and sum(len(t) for t in plan) == 10


def test_a_group_over_the_limit_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        batch.plan([[op(row=str(i)) for i in range(101)]])
    assert batch.plan([]) == []
