"""Table Storage transactions: plan groups of operations into valid entity-group transactions.

A transaction holds at most 100 operations, all in one partition, and at most 4 MiB of payload.
Azurite enforces none of this, so :func:`plan` does: it packs *groups* (operations that must
commit together, e.g. the two rows of one link) into as few transactions as the limits allow,
never splitting a group, and rejects operations of different partitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import ValidationFailed
from shared.state.rules import MAX_BATCH_BYTES, MAX_BATCH_OPERATIONS

Operation = tuple[str, Mapping[str, Any], Mapping[str, Any]]
"""``(kind, entity, kwargs)`` as ``TableClient.submit_transaction`` takes it."""


def weight(operation: Operation) -> int:
    """Upper bound of the operation's payload bytes (the SDK escapes non-ASCII as ``\\uXXXX``)."""
    _, entity, _ = operation
    return 1024 + sum(6 * len(v) + 64 for v in entity.values() if isinstance(v, str))


def plan(groups: Sequence[Sequence[Operation]], *, max_operations: int = MAX_BATCH_OPERATIONS,
         max_bytes: int = MAX_BATCH_BYTES) -> list[list[Operation]]:
    """Transactions (in order) holding every group whole; ValidationFailed on mixed partitions."""
    partition: str | None = None
    out: list[list[Operation]] = []
    current: list[Operation] = []
    size = 0
    for i, group in enumerate(groups):
        if len(group) > max_operations:
            raise ValidationFailed({f"operations[{i}]": f"{len(group)} operations cannot commit together; "
                                                        f"a transaction holds at most {max_operations}"})
        for _, entity, _ in group:
            if partition is None:
                partition = str(entity["PartitionKey"])
            elif entity["PartitionKey"] != partition:
                raise ValidationFailed({f"operations[{i}].PartitionKey": (
                    "differs from the first operation's partition: a transaction is one partition; "
                    "split the work per partition")})
        group_size = sum(weight(op) for op in group)
        if current and (len(current) + len(group) > max_operations or size + group_size > max_bytes):
            out.append(current)
            current, size = [], 0
        current.extend(group)
        size += group_size
    if current:
        out.append(current)
    return out
