"""What the ``exsync`` command shows: pure functions from the admin API's JSON to table rows and
progress lines (no I/O, so every case is a table-driven test).

A mailbox status (``GET /api/mailboxes/{email}/status``) may carry ``progress`` (the worker's
counts while a run works: ``record_type``, ``direction``, ``done``, ``total``) and ``waiting``
(why a request waits, e.g. "another run holds the mailbox until 10:42"); both are optional.
"""

from __future__ import annotations

from typing import Any

NEVER = "never run"
STATUS_COLUMNS = ("mailbox", "server", "state", "last run", "items", "now", "warning")


def items_written(run: dict[str, Any] | None) -> int | None:
    """Records a run wrote (created + updated + deleted over every type and side); None: no run."""
    if not run:
        return None
    total = 0
    for counts in (run.get("counts") or {}).values():
        total += sum(int(counts.get(k) or 0) for k in ("created", "updated", "deleted"))
    return total


def progress_text(progress: dict[str, Any] | None) -> str | None:
    """``contact export 120/1500`` (``120/?`` while the total is unknown); None without progress."""
    if not progress:
        return None
    total = progress.get("total")
    kind = " ".join(str(progress[k]) for k in ("record_type", "direction") if progress.get(k))
    return f"{kind} {int(progress.get('done') or 0)}/{'?' if total is None else int(total)}".strip()


def activity(status: dict[str, Any]) -> str:
    """What is happening to the mailbox right now, in words: waiting, working, queued or idle."""
    if status.get("waiting"):
        return f"waiting: {status['waiting']}"
    working = progress_text(status.get("progress"))
    if working:
        return f"working: {working}"
    run = status.get("last_run") or {}
    if run.get("state") in ("queued", "running"):
        return str(run["state"])
    pending = status.get("pending")
    if pending:
        since = pending.get("since") or pending.get("requested_at")
        return f"queued{f' since {since}' if since else ''}"
    return "idle"


def status_row(email: str, server: str, status: dict[str, Any] | None) -> dict[str, str]:
    """One row of ``exsync status``: state, last run, items, activity and warning of a mailbox."""
    status = status or {}
    run = status.get("last_run")
    items = items_written(run)
    return {
        "mailbox": email, "server": server,
        "state": str(run.get("state")) if run else NEVER,
        "last run": str((run.get("finished_at") or run.get("started_at")) if run else "-"),
        "items": "-" if items is None else str(items),
        "now": activity(status),
        "warning": str(status.get("warning") or "-"),
    }


def progress_line(email: str, status: dict[str, Any]) -> tuple[str, int, int | None]:
    """Description, completed and total of a mailbox's progress bar during ``exsync sync``."""
    progress = status.get("progress") or {}
    if status.get("waiting"):
        return f"{email}: waiting: {status['waiting']}", 0, None
    if progress:
        kind = " ".join(str(progress[k]) for k in ("record_type", "direction") if progress.get(k))
        total = progress.get("total")
        return f"{email}: {kind}", int(progress.get("done") or 0), None if total is None else int(total)
    run = status.get("last_run") or {}
    return f"{email}: {run.get('state') or 'queued'}", 0, None


def error_fields(body: Any) -> list[tuple[str, str]]:
    """The ``fields`` of an error body as (field, reason) pairs, whether a mapping or a list."""
    fields = body.get("fields") if isinstance(body, dict) else None
    if isinstance(fields, dict):
        return [(str(k), str(v)) for k, v in fields.items()]
    out: list[tuple[str, str]] = []
    for item in fields or []:
        if isinstance(item, dict):
            name = item.get("field") or item.get("name") or item.get("loc") or ""
            out.append((str(name), str(item.get("message") or item.get("reason") or "")))
        else:
            out.append((str(item), ""))
    return out
