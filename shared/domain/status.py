"""Per-mailbox sync status, run summaries and log entries (PRODUCT §3)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import IntEnum, StrEnum

from shared.domain.config import LoggingLevel
from shared.domain.records import RecordType


class LogLevel(IntEnum):
    """Log entry severity; higher is more severe."""

    VERBOSE = 10
    INFORMATIONAL = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def threshold(cls, level: LoggingLevel) -> LogLevel | None:
        """Lowest severity a server's logging level keeps (None: keep nothing)."""
        return {
            LoggingLevel.NONE: None,
            LoggingLevel.DEFAULT: cls.WARNING,
            LoggingLevel.INFORMATIONAL: cls.INFORMATIONAL,
            LoggingLevel.VERBOSE: cls.VERBOSE,
        }[level]


class SyncDirection(StrEnum):
    """Export = ERP to mailbox; import = mailbox to ERP (the ERP's wording)."""

    EXPORT = "export"
    IMPORT = "import"


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True, slots=True)
class Counts:
    """What one run did to one record type on one side."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0
    skipped: int = 0
    failed: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other),
                                                strict=True)))

    @property
    def writes(self) -> int:
        return self.created + self.updated + self.deleted


@dataclasses.dataclass(frozen=True, slots=True)
class RunSummary:
    """The last run of a mailbox: state and counts keyed by ``"<type>.<erp|mailbox>"``."""

    run_id: str
    state: RunState
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, Counts] = dataclasses.field(default_factory=dict)
    message: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class MailboxStatus:
    """Per-type last export/import dates, the current warning and the last run.

    ``engine_export_dates`` / ``engine_import_dates``: the dates as the engine last wrote them
    (never shown, never reset): a shown date that differs was reset by an admin, and the engine
    re-reads that side fully (:mod:`shared.sync.run`)."""

    email: str
    export_dates: dict[RecordType, datetime] = dataclasses.field(default_factory=dict)
    import_dates: dict[RecordType, datetime] = dataclasses.field(default_factory=dict)
    warning: str | None = None
    last_run: RunSummary | None = None
    engine_export_dates: dict[RecordType, datetime] = dataclasses.field(default_factory=dict)
    engine_import_dates: dict[RecordType, datetime] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a mailbox's sync log. ``message`` never holds record contents or secrets."""

    level: LogLevel
    at: datetime
    message: str
    record_type: RecordType | None = None
