"""Rules both state stores share for the tenant ERP feed's rows (:class:`shared.ports.FeedStore`).

A routed change is one row per (mailbox, type, ERP id): routing the same record again replaces
the row with the newer version (upsert), so a mailbox never holds one record twice. A delete
names the row version it read (``etag``) and leaves a row routed again since in place: the run
that consumed the older version must not drop a change it never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import ValidationFailed
from shared.ports import RoutedChange
from shared.state import rules

FEED_PARTITION = "~feed"
"""Partition of the tenant watermarks in the routed table (``~`` never starts an escaped key)."""


def check_changes(changes: Sequence[RoutedChange]) -> None:
    """ValidationFailed naming the first bad field (nothing written)."""
    for i, change in enumerate(changes):
        rules.check_id(change.mailbox, f"changes[{i}].mailbox")
        rules.check_id(change.erp_id, f"changes[{i}].erp_id")
        if not change.erp_id or not change.version:
            raise ValidationFailed({f"changes[{i}]": "a routed change needs its ERP id and the version listed"})


def check_limit(limit: int) -> None:
    rules.check_page_size(limit, "limit")
