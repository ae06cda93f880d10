"""JSON encoding of everything the state store persists.

Both the Table store and its in-memory twin keep values as JSON text produced here, so a value
read back is a fresh object (callers can never mutate stored state) and both stores round-trip
exactly the same data. Datetimes are stored as ISO-8601 text and always read back timezone-aware
(naive values are taken as UTC).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import Counts, LogEntry, LogLevel, MailboxStatus, RunState, RunSummary
from shared.errors import ValidationFailed
from shared.ports import Intent, Link, Side


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else utc(datetime.fromisoformat(value))


def _need_dt(value: str) -> datetime:
    return utc(datetime.fromisoformat(value))


def dumps(data: Any, field: str) -> str:
    """Compact JSON text of ``data``; ValidationFailed naming ``field`` if it is not JSON data."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed({field: f"must be plain JSON data (str, number, bool, list, dict): {exc}"
                                       "; store record.as_dict(), not the record"}) from exc


# ---------------------------------------------------------------- configuration


def encode_policy(policy: SyncPolicy) -> str:
    return policy.model_dump_json()


def decode_policy(text: str) -> SyncPolicy:
    return SyncPolicy.model_validate_json(text)


def encode_server(server: ServerConfig) -> str:
    return server.model_dump_json()


def decode_server(text: str) -> ServerConfig:
    return ServerConfig.model_validate_json(text)


def encode_mailbox(mailbox: Mailbox) -> str:
    return mailbox.model_dump_json()


def decode_mailbox(text: str) -> Mailbox:
    return Mailbox.model_validate_json(text)


# ---------------------------------------------------------------- links and intents


def link_body(link: Link) -> dict[str, Any]:
    """The link without its etag, as JSON-ready data."""
    return {
        "mailbox": link.mailbox,
        "record_type": link.record_type.value,
        "erp_id": link.erp_id,
        "mailbox_id": link.mailbox_id,
        "erp_version": link.erp_version,
        "mailbox_version": link.mailbox_version,
        "erp_hash": link.erp_hash,
        "mailbox_hash": link.mailbox_hash,
        "base": link.base,
        "synced_at": _iso(link.synced_at),
    }


def encode_link(link: Link) -> str:
    return dumps(link_body(link), "link.base")


def decode_link(text: str, etag: str | None) -> Link:
    data = json.loads(text)
    return Link(
        mailbox=data["mailbox"],
        record_type=RecordType(data["record_type"]),
        erp_id=data["erp_id"],
        mailbox_id=data["mailbox_id"],
        erp_version=data["erp_version"],
        mailbox_version=data["mailbox_version"],
        erp_hash=data["erp_hash"],
        mailbox_hash=data["mailbox_hash"],
        base=data["base"],
        synced_at=_dt(data["synced_at"]),
        etag=etag,
    )


def encode_intent(intent: Intent) -> str:
    return dumps({
        "mailbox": intent.mailbox,
        "record_type": intent.record_type.value,
        "intent_id": intent.intent_id,
        "target": intent.target.value,
        "source_id": intent.source_id,
        "stamp": intent.stamp,
        "created_at": _iso(intent.created_at),
    }, "intent")


def decode_intent(text: str, etag: str | None) -> Intent:
    data = json.loads(text)
    return Intent(
        mailbox=data["mailbox"],
        record_type=RecordType(data["record_type"]),
        intent_id=data["intent_id"],
        target=Side(data["target"]),
        source_id=data["source_id"],
        stamp=data["stamp"],
        created_at=_need_dt(data["created_at"]),
        etag=etag,
    )


# ---------------------------------------------------------------- status and log


def _counts(data: dict[str, int]) -> Counts:
    return Counts(**data)


def _run(data: dict[str, Any] | None) -> RunSummary | None:
    if data is None:
        return None
    return RunSummary(
        run_id=data["run_id"],
        state=RunState(data["state"]),
        started_at=_need_dt(data["started_at"]),
        finished_at=_dt(data["finished_at"]),
        counts={k: _counts(v) for k, v in data["counts"].items()},
        message=data["message"],
    )


def encode_status(status: MailboxStatus) -> str:
    run = status.last_run
    return dumps({
        "email": status.email,
        "export_dates": _iso_dates(status.export_dates),
        "import_dates": _iso_dates(status.import_dates),
        "engine_export_dates": _iso_dates(status.engine_export_dates),
        "engine_import_dates": _iso_dates(status.engine_import_dates),
        "warning": status.warning,
        "last_run": None if run is None else {
            "run_id": run.run_id,
            "state": run.state.value,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "counts": {k: {"created": c.created, "updated": c.updated, "deleted": c.deleted,
                           "conflicts": c.conflicts, "skipped": c.skipped, "failed": c.failed}
                       for k, c in run.counts.items()},
            "message": run.message,
        },
    }, "status")


def decode_status(text: str) -> MailboxStatus:
    data = json.loads(text)
    return MailboxStatus(
        email=data["email"],
        export_dates=_dates(data["export_dates"]),
        import_dates=_dates(data["import_dates"]),
        warning=data["warning"],
        last_run=_run(data["last_run"]),
        engine_export_dates=_dates(data.get("engine_export_dates")),   # absent: written by an earlier version
        engine_import_dates=_dates(data.get("engine_import_dates")),
    )


def _iso_dates(dates: dict[RecordType, datetime]) -> dict[str, str | None]:
    return {t.value: _iso(d) for t, d in dates.items()}


def _dates(data: dict[str, str] | None) -> dict[RecordType, datetime]:
    return {RecordType(t): _need_dt(d) for t, d in (data or {}).items()}


MAX_LOG_MESSAGE = 8000
"""Longer log messages are cut to this many characters (a Table string property holds 32 K)."""


def clip_message(message: str) -> str:
    if len(message) <= MAX_LOG_MESSAGE:
        return message
    return message[: MAX_LOG_MESSAGE - 14] + " …(truncated)"


def log_entry(level: int, at: datetime, message: str, record_type: str | None) -> LogEntry:
    return LogEntry(level=LogLevel(level), at=utc(at), message=message,
                    record_type=None if record_type is None else RecordType(record_type))


# ---------------------------------------------------------------- documents


def encode_doc(value: dict[str, Any], kind: str) -> str:
    return dumps(value, f"doc.{kind}")


def decode_doc(text: str) -> dict[str, Any]:
    data = json.loads(text)
    assert isinstance(data, dict)
    return data
