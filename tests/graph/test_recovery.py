"""The lost-answer decision table (``shared.graph.recovery``), row by row."""

from __future__ import annotations

import pytest

from shared.graph.recovery import MAX_BACKOFF_SECONDS, Lost, after_lost, backoff, settled_status

AFTER_LOST = [
    # method, guarded (stamp look-up), deduplicated (transactionId), action
    ("GET", False, False, Lost.RESEND),
    ("PATCH", False, False, Lost.RESEND),
    ("PUT", False, False, Lost.RESEND),
    ("DELETE", False, False, Lost.RESEND),
    ("delete", False, False, Lost.RESEND),
    ("POST", True, False, Lost.LOOK_UP),
    ("POST", True, True, Lost.LOOK_UP),
    ("POST", False, True, Lost.RESEND),
    ("POST", False, False, Lost.GIVE_UP),
    ("post", False, False, Lost.GIVE_UP),
]


@pytest.mark.parametrize(("method", "guarded", "deduplicated", "action"), AFTER_LOST)
def test_after_lost(method: str, guarded: bool, deduplicated: bool, action: Lost) -> None:
    assert after_lost(method, guarded=guarded, deduplicated=deduplicated) is action


SETTLED = [
    ("DELETE", 404, 204),
    ("DELETE", 204, 204),
    ("DELETE", 412, 412),
    ("PATCH", 404, 404),
    ("GET", 404, 404),
    ("POST", 201, 201),
]


@pytest.mark.parametrize(("method", "status", "reported"), SETTLED)
def test_settled_status(method: str, status: int, reported: int) -> None:
    assert settled_status(method, status) == reported


def test_backoff_doubles_up_to_its_cap() -> None:
    waits = [backoff(n) for n in range(1, 8)]
    assert waits[:3] == [0.5, 1.0, 2.0]
    assert waits == sorted(waits) and max(waits) == MAX_BACKOFF_SECONDS
