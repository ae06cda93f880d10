"""Request and response bodies of the admin API that are not domain models.

Pydantic models with ``extra="forbid"``: unknown fields are rejected with a 400 naming them.
They also feed the OpenAPI document (:mod:`shared.admin.openapi`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.config import Mailbox
from shared.domain.records import RecordType
from shared.domain.status import RunState


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class MailboxBody(_Body):
    """``PUT /api/servers/{name}/mailboxes/{email}``."""

    employee_id: str = Field(min_length=1, max_length=30)
    employee_name: str = ""
    sync: bool = True
    policy: str | None = None


class SyncBody(_Body):
    """``POST /api/sync``: the given mailboxes, or every synced mailbox with ``all``."""

    mailboxes: list[str] = Field(default_factory=list)
    all: bool = False
    server: str | None = None
    policy: str | None = None
    types: list[RecordType] | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> SyncBody:
        if bool(self.mailboxes) == self.all:
            raise ValueError("give either mailboxes (a list of mailbox UPNs) or all: true")
        return self


class InitializeBody(_Body):
    """``POST /api/servers/{name}/initialize``; no mailboxes: every mailbox of the server."""

    mailboxes: list[str] = Field(default_factory=list)



class StatusResetBody(_Body):
    """``POST /api/mailboxes/{email}/status/reset``.

    ``direction`` export (ERP -> mailbox), import (mailbox -> ERP) or both; ``since``: re-read
    changes since then (export only; import always re-reads fully, echoes are recognised).
    """

    type: RecordType | None = None
    direction: str = Field(default="both", pattern=r"^(export|import|both)$")
    since: datetime | None = None


class SyncAccepted(_Body):
    run_id: str
    queued: list[str]


class CountsOut(_Body):
    created: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0
    skipped: int = 0
    failed: int = 0


class RunOut(_Body):
    run_id: str
    state: RunState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counts: dict[str, CountsOut] = Field(default_factory=dict)
    message: str = ""


class StatusOut(_Body):
    email: str
    export_dates: dict[str, datetime] = Field(default_factory=dict)
    import_dates: dict[str, datetime] = Field(default_factory=dict)
    warning: str | None = None
    last_run: RunOut | None = None
    pending: dict[str, Any] | None = Field(
        default=None, description="a sync request waiting on the queue: since when, which types (null: all)")


class LogEntryOut(_Body):
    level: str
    at: datetime
    message: str
    record_type: str | None = None


class LogPage(_Body):
    entries: list[LogEntryOut]
    next_cursor: str | None = None


class FieldError(_Body):
    field: str = Field(description="the input to blame: a body path (contacts.direction), a header, a parameter")
    message: str = Field(description="why, and how to fix it")


class ErrorOut(_Body):
    """The one error shape of every route (see :func:`shared.admin.http.error_body`)."""

    error: str
    message: str
    fields: list[FieldError]


class MailboxOut(Mailbox):
    """An entry of ``GET /api/servers/{name}/mailboxes``: the mailbox and its status (null: never run)."""

    status: StatusOut | None = None


class TestReport(_Body):
    server: str
    ok: bool
    findings: list[dict[str, Any]] = Field(default_factory=list)
