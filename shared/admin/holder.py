"""The mailbox lease as the worker holds it: take, heartbeat, let go, and why others wait.

The lease is the ``holder`` of the mailbox's waiting document (:mod:`shared.admin.pending`): the
owner, when the lease ends and the last beat. Taking the waiting request takes it in one
conditional write (:meth:`Held.take`), which fails while another owner's lease has not ended; an
expired one is taken over. While the run works, :class:`Held` renews it every ``beat_seconds`` (one
write); the last look, finding nothing waiting, lets it go in the write it makes anyway, and
:meth:`Held.release` lets it go after a failure. The LeaseStore keeps no mailbox lease. A crashed
worker stops beating, so a request that finds the lease taken can tell a live run ("another run
holds the mailbox until hh:mm") from an interrupted one ("waiting for an interrupted run's lease
(until hh:mm)") -- :func:`waiting_reason`, a pure decision table.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from shared.admin import pending
from shared.ports import Clock, StateStore

logger = logging.getLogger(__name__)
STALE_BEATS = 3
"""A holder that missed this many heartbeats is taken for interrupted (crashed, killed)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Wait:
    """Why a request waits and until when the lease blocks it at most."""

    reason: str
    until: datetime


def waiting_reason(holder: dict[str, Any] | None, now: datetime, lease_seconds: float,
                   beat_seconds: float) -> Wait:
    """The status text for a request that found the lease taken.

    | holder document         | heartbeat                      | reason                          |
    |-------------------------|--------------------------------|---------------------------------|
    | none (let go just now)  | -                              | another run, until now + lease  |
    | present                 | within ``STALE_BEATS`` beats   | another run, until its lease end|
    | present                 | older                          | an interrupted run's lease      |
    """
    if holder is None:
        until = now + timedelta(seconds=lease_seconds)
        return Wait(f"another run holds the mailbox until {until:%H:%M} UTC", until)
    until = datetime.fromisoformat(holder["until"])
    beat = datetime.fromisoformat(holder["beat"])
    if now - beat > timedelta(seconds=beat_seconds * STALE_BEATS):
        return Wait(f"waiting for an interrupted run's lease (until {until:%H:%M} UTC)", until)
    return Wait(f"another run holds the mailbox until {until:%H:%M} UTC", until)


DEFER_SECONDS = 10
"""Shortest delay of a message that found a run's heartbeat beside the lease."""


def retry_delay(holder: dict[str, Any] | None, wait: Wait, now: datetime, deferrals: int,
                lease_seconds: float) -> int:
    """Seconds until a message that found the lease taken comes back.

    | holder document                                   | delay                                   |
    |---------------------------------------------------|-----------------------------------------|
    | none: the holder let go since the take failed     | 1, 2, 4 ... s by ``deferrals``, at most |
    | (its last look ran meanwhile)                     | the lease                               |
    | present (a live or an interrupted run)            | until its lease ends + 1 s, at least    |
    |                                                   | ``DEFER_SECONDS``, at most the lease    |

    A live holder takes the waiting request itself when its run ends, so its message only comes
    back to end quietly; a holder gone by the time the message reads it again has let go, and the
    short delay is what keeps a request that arrived just then from waiting ``DEFER_SECONDS``.
    """
    if holder is None:
        return int(min(2 ** min(deferrals, 16), lease_seconds))
    return int(max(DEFER_SECONDS, min((wait.until - now).total_seconds() + 1, lease_seconds)))


async def holder_of(state: StateStore, email: str) -> dict[str, Any] | None:
    return await pending.holder_of(state, email)


class Held:
    """A lease this worker holds; :meth:`beating` keeps it (and the heartbeat) alive.

    ``first``: what the take found waiting (None: nothing, and the lease is already let go)."""

    def __init__(self, state: StateStore, clock: Clock, email: str, owner: str, lease_seconds: float,
                 beat_seconds: float, desk: pending.Desk | None = None) -> None:
        self._state, self._clock = state, clock
        self.email, self.owner = email, owner
        self._lease, self._beat = lease_seconds, beat_seconds
        self.desk = desk or pending.Desk(state, email)
        self.desk.owner = owner
        self.first: pending.Waiting | None = None

    @classmethod
    async def take(cls, state: StateStore, clock: Clock, email: str, owner: str, lease_seconds: float,
                   beat_seconds: float, desk: pending.Desk | None = None) -> Held | None:
        """The lease with what waits, or None when another run holds it; ``desk``: the waiting
        document as the message's admission read it."""
        held = cls(state, clock, email, owner, lease_seconds, beat_seconds, desk)
        taken, held.first = await held.desk.claim(clock.now(), held.info())
        return held if taken else None

    def info(self) -> dict[str, Any]:
        """The heartbeat as :func:`waiting_reason` reads it: owner, last beat, lease end."""
        now = self._clock.now()
        return {"owner": self.owner, "beat": now.isoformat(),
                "until": (now + timedelta(seconds=self._lease)).isoformat()}

    async def beat(self) -> None:
        """Renew the lease with the heartbeat (a lost lease is logged; the run finishes anyway)."""
        if not await self.desk.beat(self.info()):
            logger.warning("the lease of a mailbox was lost during its run")

    @contextlib.asynccontextmanager
    async def beating(self, tick: Callable[[], Awaitable[None]] | None = None,
                      tick_seconds: float = 1.0) -> Any:
        """Heartbeat in the background for the block; ``tick`` runs every ``tick_seconds`` too."""

        async def loop() -> None:
            elapsed = 0.0
            while True:
                await asyncio.sleep(tick_seconds)
                elapsed += tick_seconds
                try:
                    if tick is not None:
                        await tick()
                    if elapsed >= self._beat:
                        elapsed = 0.0
                        await self.beat()
                except Exception:  # a missed beat must not stop the run
                    logger.warning("mailbox heartbeat failed", exc_info=True)

        task = asyncio.create_task(loop(), name=f"heartbeat-{self.owner[:8]}")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def release(self) -> None:
        """Let the lease go if the run still holds it (the last look normally did)."""
        await self.desk.release()
