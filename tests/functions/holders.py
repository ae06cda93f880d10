"""Another worker's lease on a mailbox, as the tests put it there: the holder of the waiting document."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.admin import pending
from shared.ports import DocumentStore


async def hold(store: DocumentStore, email: str, owner: str, until: datetime, beat: datetime | None = None) -> None:
    """``owner`` holds ``email``'s lease until ``until`` (last heartbeat at ``beat``, default: a minute before)."""
    holder = {"owner": owner, "beat": (beat or until - timedelta(minutes=1)).isoformat(), "until": until.isoformat()}
    await pending.edit(store, email, lambda value: {**value, "holder": holder})


async def let_go(store: DocumentStore, email: str) -> None:
    """The holder of ``email``'s lease lets it go."""
    await pending.edit(store, email, lambda value: {**value, "holder": None})


async def holder(store: DocumentStore, email: str, now: datetime) -> dict[str, Any] | None:
    """The live lease of ``email`` (None: nobody holds it, or it expired)."""
    found = await pending.holder_of(store, email)
    return found if pending.live(found, now) else None
