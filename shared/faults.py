"""Fault injection for the in-memory twins: fail the k-th gateway call or the k-th single write.

The property tests and unit tests arm faults on a twin to check that failures stay scoped to
their item and that a run resumes correctly afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shared.errors import ExsyncError
from shared.ports import ErpWrite, MailboxWrite, WriteResult

W = TypeVar("W", MailboxWrite, ErpWrite)


class CallFaults:
    """Counts calls and writes; raises / fails the k-th one when armed."""

    def __init__(self) -> None:
        self.calls = 0
        self.writes = 0
        self._call_faults: dict[int, ExsyncError] = {}
        self._write_faults: dict[int, ExsyncError] = {}

    def arm_call(self, k: int, error: ExsyncError) -> None:
        self._call_faults[self.calls + k] = error

    def arm_write(self, k: int, error: ExsyncError) -> None:
        self._write_faults[self.writes + k] = error

    def clear(self) -> None:
        self._call_faults.clear()
        self._write_faults.clear()

    def call(self) -> None:
        """Count a gateway call; raise if this one was armed."""
        self.calls += 1
        error = self._call_faults.pop(self.calls, None)
        if error is not None:
            raise error

    def write(self) -> ExsyncError | None:
        """Count a single write; the error this write must report, if armed."""
        self.writes += 1
        return self._write_faults.pop(self.writes, None)

    def apply_each(self, writes: Sequence[W], one: Callable[[W], Any]) -> list[WriteResult[W]]:
        """One gateway call running ``one`` per write; armed write faults and errors stay scoped to their write."""
        self.call()
        results: list[WriteResult[W]] = []
        for write in writes:
            error = self.write()
            if error is None:
                try:
                    results.append(WriteResult(write, item=one(write)))
                    continue
                except ExsyncError as exc:
                    error = exc
            results.append(WriteResult(write, error=error))
        return results
