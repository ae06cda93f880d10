"""When a run makes sure the mailbox has exsync's category: on the first run, when the policy's
category (name or colour) changed, and once a day after that — not on every run.

The mark (cursor ``"category.checked"``, see :mod:`shared.sync.names`) records what was ensured
and when. A user who deletes the category in Outlook gets it back within a day; items written
meanwhile still carry the category name (Graph accepts names missing from the master list).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from shared.domain.config import Category

CATEGORY_MARK = "category.checked"
RECHECK_INTERVAL = timedelta(hours=24)


def mark(category: Category, now: datetime) -> str:
    return json.dumps({"name": category.name, "color": category.color, "at": now.isoformat()},
                      separators=(",", ":"))


def check_due(stored: str | None, category: Category, now: datetime) -> bool:
    """True when the category must be ensured in this run (pure: the decision table's rules)."""
    if stored is None:
        return True
    try:
        seen = json.loads(stored)
        at = datetime.fromisoformat(seen["at"])
    except (ValueError, KeyError, TypeError):
        return True
    if (seen.get("name"), seen.get("color")) != (category.name, category.color):
        return True
    return not (timedelta(0) <= now - at < RECHECK_INTERVAL)
