"""Per-run, per-type working context of the engine: configuration, ports, counters and log lines.

Holds no records: only ids, counts and the log lines the run will store (which never carry
record contents; item ids appear only at VERBOSE).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections import Counter
from typing import Any

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import Counts, LogEntry, LogLevel
from shared.ports import Clock, ErpGateway, ErpScope, Intent, MailboxGateway, RoutedChange, Side, StateStore, SyncJob
from shared.sync.cursors import RunCursors
from shared.sync.intent_flag import OpenIntents
from shared.sync.plan import TypeRules

logger = logging.getLogger(__name__)

_FIELDS = ("created", "updated", "deleted", "conflicts", "skipped", "failed")


class Tally:
    """Counts per ``"<type>.<erp|mailbox>"`` key, as RunSummary wants them."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}

    def add(self, record_type: RecordType, side: Side, what: str, n: int = 1) -> None:
        assert what in _FIELDS, what
        self._counts.setdefault(f"{record_type.value}.{side.value}", Counter())[what] += n

    def get(self, record_type: RecordType, side: Side, what: str) -> int:
        return self._counts.get(f"{record_type.value}.{side.value}", Counter())[what]

    def failed(self) -> int:
        return sum(c["failed"] for c in self._counts.values())

    def as_counts(self) -> dict[str, Counts]:
        return {key: Counts(**{f: c[f] for f in _FIELDS}) for key, c in sorted(self._counts.items())}


@dataclasses.dataclass(slots=True)
class RunLog:
    """Log lines of one run, kept when at or above the server's threshold."""

    threshold: LogLevel | None
    clock: Clock
    entries: list[LogEntry] = dataclasses.field(default_factory=list)

    def add(self, level: LogLevel, message: str, record_type: RecordType | None = None) -> None:
        logger.log(_PY_LEVEL[level], "%s", message)
        if self.threshold is not None and level >= self.threshold:
            self.entries.append(LogEntry(level, self.clock.now(), message, record_type))


def describe(error: BaseException) -> str:
    """An error for the mailbox log: its kind and HTTP status/code, never its message (a remote
    message may quote record contents; the full text goes to the DEBUG log only)."""
    logger.debug("error detail: %r", error)
    parts = [type(error).__name__]
    status, code = getattr(error, "status", None), getattr(error, "code", None)
    if status is not None:
        parts.append(f"HTTP {status}")
    if code:
        parts.append(str(code))
    fields = getattr(error, "errors", None)
    if isinstance(fields, dict) and fields:
        parts.append("fields " + ", ".join(sorted(str(k) for k in fields)))
    return " ".join(parts)


_PY_LEVEL = {LogLevel.VERBOSE: logging.DEBUG, LogLevel.INFORMATIONAL: logging.INFO,
             LogLevel.WARNING: logging.WARNING, LogLevel.ERROR: logging.ERROR,
             LogLevel.CRITICAL: logging.CRITICAL}


@dataclasses.dataclass(slots=True)
class TypeContext:
    """Everything a pass over one record type needs: the run's job (mailbox, server, policy, ports)
    and the type's own view of it."""

    job: SyncJob
    mailbox_gateway: MailboxGateway
    """The job's gateway, or a view over it (contacts with a hyperlink: :mod:`shared.sync.hyperlink`)."""
    rules: TypeRules
    container: str
    scope: ErpScope
    tally: Tally
    log: RunLog
    cursors: RunCursors
    sent_container: str | None = None
    open_intents: list[Intent] | None = None
    """The type's intents as the run read them at its start (None: read them here)."""
    intent_flag: OpenIntents | None = None
    """The run's record of open intents and the cursor book's flag (None: not kept)."""
    push_removed: tuple[str, ...] = ()
    """ERP ids the ERP's push notifications reported removed (given to the first ERP listing)."""
    pending_deletes: list[Any] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    sequence: itertools.count[int] = dataclasses.field(default_factory=itertools.count)
    unresolved: set[tuple[Side, str]] = dataclasses.field(default_factory=set)
    """(target side, source id) of creates whose outcome is unknown this run: no second attempt."""
    left_scope: set[str] = dataclasses.field(default_factory=set)
    """ERP ids unlinked in this run because they left the scope: never re-linked by stamp here."""
    listed_stamps: set[str] | None = dataclasses.field(default_factory=set)
    """Stamps (ERP ids) carried by the items of a full mailbox listing in this run; None once
    they outgrew ``run.STAMP_MEMORY_PAGES`` pages (memory stays bounded by the page size)."""
    stamps_seen: set[str] | None = None
    """Set after a complete full mailbox read: only these stamps can exist in the container."""
    unresolved_stamps: set[str] = dataclasses.field(default_factory=set)
    """Stamps / origins of those creates: an item carrying one is not taken for a new record."""
    nothing_routed: bool = False
    """The run's start found no routed change of this type waiting (its routed pass reads none)."""
    routed_after_deletes: list[RoutedChange] = dataclasses.field(default_factory=list)
    """Routed changes consumed by this run whose deletions wait for the mass-deletion guard: removed
    from the feed only once the type's deletions ran (:mod:`shared.sync.feed`)."""
    routed_drained: bool = False
    """The type's routed pass read and removed every change routed to it (none is left waiting)."""

    @property
    def mailbox(self) -> Mailbox:
        return self.job.mailbox

    @property
    def server(self) -> ServerConfig:
        return self.job.server

    @property
    def policy(self) -> SyncPolicy:
        return self.job.policy

    @property
    def erp_gateway(self) -> ErpGateway:
        return self.job.erp_gateway

    @property
    def state(self) -> StateStore:
        return self.job.state

    @property
    def clock(self) -> Clock:
        return self.job.clock

    @property
    def run_id(self) -> str:
        return self.job.run_id

    @property
    def record_type(self) -> RecordType:
        return self.rules.record_type

    @property
    def email(self) -> str:
        return self.mailbox.email

    @property
    def batch_size(self) -> int:
        return self.server.update_batch_size

    @property
    def page_size(self) -> int:
        return self.server.select_batch_size

    @property
    def max_attachment_bytes(self) -> int:
        return self.server.max_attachment_kb * 1024

    def next_id(self) -> str:
        """A run-unique, ordered id (intent ids: resolved in creation order after a crash)."""
        return f"{self.run_id}.{self.record_type.value}.{next(self.sequence):06d}"

    def count(self, side: Side, what: str, n: int = 1) -> None:
        self.tally.add(self.record_type, side, what, n)
