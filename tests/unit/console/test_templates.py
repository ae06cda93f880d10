"""The mailbox status partial: live while a run works (progress and waiting from the worker), still
once it is done; the access-refusal texts name the fix."""

from __future__ import annotations

from typing import Any

from shared.console import render
from shared.console.session import READER_ROLE, Principal
from shared.console.sync_pages import TYPES, busy, totals

READER = Principal("Rita", "oid-2", frozenset({READER_ROLE}))


def _status(**extra: Any) -> dict[str, Any]:
    return {"email": "ann@contoso.test", "export_dates": {}, "import_dates": {}, "warning": "last run failed: x",
            "last_run": {"run_id": "r1", "state": "running", "started_at": "2026-12-01T09:00:00+00:00",
                         "finished_at": None, "counts": {}, "message": ""}, "pending": None, **extra}


def _render(status: dict[str, Any]) -> str:
    response = render.html("partials/status.html", me=READER, can_change=False, csrf="t", status=status,
                           busy=busy(status), types=TYPES, totals=totals, quoted="ann%40contoso.test")
    return response.body.decode()


def test_a_running_mailbox_polls_and_shows_the_workers_progress_and_wait() -> None:
    html = _render(_status(progress={"record_type": "contact", "direction": "export", "done": 40, "total": 120,
                                     "updated_at": "2026-12-01T09:00:05+00:00"},
                           waiting="another run holds the mailbox until 09:10"))
    assert 'hx-trigger="every 2s"' in html
    assert "contact export: 40 of 120" in html
    assert "another run holds the mailbox until 09:10" in html
    assert "reset-warning" not in html   # a reader gets no button


def test_a_finished_mailbox_stops_polling_and_unknown_fields_are_absent() -> None:
    status = _status()
    status["last_run"] = {**status["last_run"], "state": "succeeded", "finished_at": "2026-12-01T09:01:00+00:00"}
    html = _render(status)
    assert "hx-trigger" not in html and 'id="progress"' not in html and 'id="waiting"' not in html
    assert "succeeded" in html


def test_totals_add_every_type_and_side() -> None:
    status = {"last_run": {"counts": {"contact.mailbox": {"created": 2, "failed": 1}, "task.erp": {"updated": 3}}}}
    assert totals(status) == {"created": 2, "updated": 3, "deleted": 0, "failed": 1}
    assert totals(None) == {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
