"""What ``exsync`` shows for the status JSON the API returns (``status_to_json``), including the
optional ``progress`` and ``waiting`` the worker publishes while a run works or waits."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from shared.admin.status import status_to_json
from shared.cli import build_parser, run
from shared.cli_view import NEVER, activity, error_fields, items_written, progress_line, status_row
from shared.domain.status import Counts, MailboxStatus, RunState, RunSummary

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 10, 4, tzinfo=UTC)


def api_status(state: RunState | None = None, warning: str | None = None, **extra: Any) -> dict[str, Any]:
    run_ = None if state is None else RunSummary("run-1", state, T0, T1 if state not in (
        RunState.QUEUED, RunState.RUNNING) else None, {"contact.mailbox": Counts(created=3, updated=2),
                                                       "contact.erp": Counts(deleted=1, failed=4)})
    return {**status_to_json(MailboxStatus("ann@contoso.com", warning=warning, last_run=run_)), "pending": None,
            **extra}


PROGRESS = {"record_type": "contact", "direction": "export", "done": 120, "total": 1500,
            "updated_at": T1.isoformat()}


@pytest.mark.parametrize(("status", "state", "last", "items", "now", "warning"), [
    (None, NEVER, "-", "-", "idle", "-"),
    (api_status(), NEVER, "-", "-", "idle", "-"),
    (api_status(RunState.SUCCEEDED), "succeeded", T1.isoformat(), "6", "idle", "-"),
    (api_status(RunState.WARNING, warning="category missing"), "warning", T1.isoformat(), "6", "idle",
     "category missing"),
    (api_status(RunState.RUNNING, progress=PROGRESS), "running", T0.isoformat(), "6",
     "working: contact export 120/1500", "-"),
    (api_status(RunState.RUNNING, progress={**PROGRESS, "total": None}), "running", T0.isoformat(), "6",
     "working: contact export 120/?", "-"),
    (api_status(RunState.SUCCEEDED, waiting="another run holds the mailbox until 10:42",
                pending={"since": T1.isoformat()}), "succeeded", T1.isoformat(), "6",
     "waiting: another run holds the mailbox until 10:42", "-"),
    (api_status(RunState.SUCCEEDED, pending={"since": T1.isoformat()}), "succeeded", T1.isoformat(), "6",
     f"queued since {T1.isoformat()}", "-"),
    (api_status(RunState.QUEUED), "queued", T0.isoformat(), "6", "queued", "-"),
])
def test_status_row(status: dict[str, Any] | None, state: str, last: str, items: str, now: str,
                    warning: str) -> None:
    row = status_row("ann@contoso.com", "m365", status)
    assert (row["state"], row["last run"], row["items"], row["now"], row["warning"]) == (
        state, last, items, now, warning)


@pytest.mark.parametrize(("status", "line"), [
    (api_status(RunState.RUNNING, progress=PROGRESS), ("ann: contact export", 120, 1500)),
    (api_status(RunState.RUNNING, progress={**PROGRESS, "total": None, "done": 7}), ("ann: contact export", 7, None)),
    (api_status(RunState.SUCCEEDED, waiting="another run holds the mailbox until 10:42"),
     ("ann: waiting: another run holds the mailbox until 10:42", 0, None)),
    (api_status(RunState.RUNNING), ("ann: running", 0, None)),
    (api_status(), ("ann: queued", 0, None)),
])
def test_progress_line(status: dict[str, Any], line: tuple[str, int, int | None]) -> None:
    assert progress_line("ann", status) == line


def test_items_and_activity_without_a_run() -> None:
    assert items_written(None) is None
    assert activity({}) == "idle"


@pytest.mark.parametrize(("body", "pairs"), [
    ({"error": "validation_failed", "message": "m", "fields": {"email": "expected a UPN"}},
     [("email", "expected a UPN")]),
    ({"error": "validation_failed", "message": "m", "fields": [{"field": "email", "message": "expected a UPN"}]},
     [("email", "expected a UPN")]),
    ({"error": "validation_failed", "message": "m", "fields": ["email"]}, [("email", "")]),
    ({"error": "not_found", "message": "m"}, []),
    ("plain text", []),
])
def test_error_fields_accept_both_shapes(body: Any, pairs: list[tuple[str, str]]) -> None:
    assert error_fields(body) == pairs


def _actions(parser: argparse.ArgumentParser, path: str = "exsync") -> list[tuple[str, argparse.Action]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out += _actions(child, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            out.append((path, action))
    return out


def test_every_option_and_command_has_help() -> None:
    parser = build_parser()
    missing = [f"{path} {a.dest}" for path, a in _actions(parser) if not a.help]
    assert missing == []
    commands = [c for a in parser._actions if isinstance(a, argparse._SubParsersAction) for c in a._choices_actions]
    assert commands and all(c.help for c in commands)


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        run(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("exsync ")


def test_reset_without_a_mailbox_is_a_usage_error() -> None:
    with pytest.raises(SystemExit, match="give the mailbox"):
        run(["--url", "http://127.0.0.1:9/api", "status", "--reset"], console=Console(file=io.StringIO()))
