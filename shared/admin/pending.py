"""The waiting request of a mailbox: the unit of work of the sync worker.

Every enqueued request merges into one *waiting* document per mailbox (DocumentStore kind
``pending``, key = mailbox): the union of the record types (None: all) and reasons asked for since
the last run took it. A queue message is only a wake-up call: the worker that holds the mailbox
lease *takes* the waiting document (a conditional write flips it to ``taken``) and syncs exactly
what it held. A message that finds nothing waiting ends quietly; a lease holder looks again before
it lets the lease go, so a request never waits behind a run that is about to finish.

A notification whose types are already covered by a waiting request younger than the lease time
is not enqueued again: the waiting run reads the change anyway (the delta read is the truth).
Without this, every write of a run would echo back as a push and queue one more run per item.

Every write is conditional (etag), so concurrent marks merge and a take never loses a mark.
The document is never deleted (a delete cannot be conditional here); ``taken`` means idle.

The document is also the mailbox's lease: ``holder`` (owner, last beat, ``until``) says who runs
it. Taking the request takes the lease in the same conditional write, and fails while another
owner's ``until`` lies ahead (a holder whose ``until`` has passed left an expired lease: it is taken
over). The heartbeat renews it; the last look, which finds nothing waiting, releases it in the write
it makes anyway; a run that fails on its way out releases it only while it is still its own. Two
workers racing for a mailbox both write over the same etag: exactly one wins.

The lease holder works through a :class:`Desk`: it remembers the document as the holder last read
or wrote it, so the take right after the message's :func:`admit`, each heartbeat and the final look
after a run are one conditional write each (a 412 reads again: the memory decides nothing). What
else rides on the document (the kept ERP push removals' counters, :mod:`shared.admin.erp_pushes`;
the mailbox's runs per hour, :mod:`shared.admin.run_history`) is carried by every write, and a
holder's change to it is *staged* (:meth:`Desk.stage`) into the next write the holder makes.
:func:`wake_up` is the one enqueue loop of every queue that works this way (the sync worker's, the
system mailboxes' processing and sending): coalesce, mark, send, count.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.domain.records import RecordType
from shared.errors import AlreadyExists, ConcurrencyConflict
from shared.ports import DocumentStore, Stored, SyncQueue, SyncRequest

logger = logging.getLogger(__name__)

KIND = "pending"
_ATTEMPTS = 8
_DONE_KEPT = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Waiting:
    """What waits for one mailbox: record types (None: all), reasons and run ids, oldest first."""

    types: frozenset[RecordType] | None
    reasons: tuple[str, ...]
    run_ids: tuple[str, ...]
    since: datetime

    @property
    def run_id(self) -> str:
        """The run the work is reported under: the latest request's."""
        return self.run_ids[-1] if self.run_ids else ""

    @property
    def record_types(self) -> tuple[RecordType, ...] | None:
        return None if self.types is None else tuple(sorted(self.types))


def _types(value: Sequence[str] | None) -> set[RecordType] | None:
    return None if value is None else {RecordType(t) for t in value}


def _waiting(doc: Stored[dict[str, Any]] | None) -> dict[str, Any] | None:
    if doc is None or doc.value.get("taken"):
        return None
    return doc.value


def _merge(current: dict[str, Any] | None, types: Sequence[RecordType] | None, now: datetime, reason: str,
           run_id: str) -> dict[str, Any]:
    waiting = _types(current.get("types")) if current is not None else set()
    merged = None if types is None or waiting is None else set(types) | waiting
    reasons = list((current or {}).get("reasons") or [])
    run_ids = list((current or {}).get("run_ids") or [])
    if reason and reason not in reasons:
        reasons.append(reason)
    if run_id and run_id not in run_ids:
        run_ids = [*run_ids, run_id][-20:]
    return {"at": now.isoformat(), "since": (current or {}).get("since") or now.isoformat(),
            "types": None if merged is None else sorted(t.value for t in merged),
            "reasons": reasons, "run_ids": run_ids, "why": (current or {}).get("why")}


def _done(doc: Stored[dict[str, Any]] | None) -> list[str]:
    return list(doc.value.get("done") or []) if doc is not None else []


def _running(doc: Stored[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The request a run took and has not finished (a crashed run leaves it behind)."""
    return doc.value.get("running") if doc is not None else None


_REQUEST_FIELDS = ("at", "since", "types", "reasons", "run_ids", "why")


def _request(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else {k: value.get(k) for k in _REQUEST_FIELDS}


def _holder(doc: Stored[dict[str, Any]] | None) -> dict[str, Any] | None:
    return doc.value.get("holder") if doc is not None else None


CARRIED = ("holder", "pushes", "pushes_seen", "hours")
"""Fields that are no part of the request and survive every write of the document."""


def _carry(doc: Stored[dict[str, Any]] | None) -> dict[str, Any]:
    value = doc.value if doc is not None else {}
    return {"holder": value.get("holder"), **{k: value[k] for k in CARRIED[1:] if k in value}}


def live(holder: dict[str, Any] | None, now: datetime) -> bool:
    """True while ``holder``'s lease has not ended (an expired lease may be taken over)."""
    return holder is not None and datetime.fromisoformat(holder["until"]) > now


def blocks(holder: dict[str, Any] | None, owner: str | None, now: datetime) -> bool:
    """True when a live lease of another owner than ``owner`` stands in the way."""
    return live(holder, now) and (holder or {}).get("owner") != owner


def _union(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    first, second = _request(first), _request(second)
    if first is None or second is None:
        return first or second
    merged = first
    for reason in second.get("reasons") or [""]:
        merged = _merge(merged, None if second.get("types") is None else [RecordType(t) for t in second["types"]],
                        datetime.fromisoformat(second["at"]), reason, "")
    merged["run_ids"] = list(dict.fromkeys([*(first.get("run_ids") or []), *(second.get("run_ids") or [])]))
    merged["since"] = min(first.get("since") or first["at"], second.get("since") or second["at"])
    return merged


async def _put(store: DocumentStore, email: str, doc: Stored[dict[str, Any]] | None,
               value: dict[str, Any]) -> Stored[dict[str, Any]] | None:
    """The conditional write of ``value`` over ``doc`` as read; the document as written (None: lost)."""
    try:
        etag = await store.put_doc(KIND, email, value, doc.etag if doc is not None else None)
    except (ConcurrencyConflict, AlreadyExists):
        return None
    return Stored(value, etag)


async def _write(store: DocumentStore, email: str, doc: Stored[dict[str, Any]] | None,
                 value: dict[str, Any]) -> bool:
    return await _put(store, email, doc, value) is not None


async def covered(store: DocumentStore, email: str, types: Sequence[RecordType] | None, now: datetime,
                  max_age: timedelta) -> bool:
    """True when a waiting request for ``email`` already covers ``types``."""
    value = _waiting(await store.get_doc(KIND, email))
    if value is None or datetime.fromisoformat(value["at"]) < now - max_age:
        return False
    pending = _types(value.get("types"))
    if pending is None:
        return True
    return types is not None and set(types) <= pending


async def mark(store: DocumentStore, email: str, types: Sequence[RecordType] | None, now: datetime,
               reason: str = "", run_id: str = "") -> None:
    """Record that a request covering ``types`` waits (merged with what already waits)."""
    for _ in range(_ATTEMPTS):
        doc = await store.get_doc(KIND, email)
        value = {**_merge(_waiting(doc), types, now, reason, run_id), "done": _done(doc),
                 "running": _running(doc), **_carry(doc)}
        if await _write(store, email, doc, value):
            return
    doc = await store.get_doc(KIND, email)  # still racing: merge once more and write anyway
    value = {**_merge(_waiting(doc), types, now, reason, run_id), "done": _done(doc), "running": _running(doc),
             **_carry(doc)}
    await store.put_doc(KIND, email, value, force=True)


@dataclasses.dataclass(frozen=True, slots=True)
class Admission:
    """What :func:`admit` found for a message: whether it has work, and the document it read.

    ``unmarked``: the message's request is neither waiting nor taken (sent without :func:`mark`,
    or its mark was lost); the lease holder takes it with what waits (:meth:`Desk.take`), and a
    message that finds the lease taken marks it (:meth:`keep_waiting`), so no message is ever
    without work."""

    run: bool
    doc: Stored[dict[str, Any]] | None = None
    unmarked: dict[str, Any] | None = None

    async def keep_waiting(self, store: DocumentStore, email: str, now: datetime) -> None:
        if self.unmarked is not None:
            await mark(store, email, _types_of(self.unmarked), now, (self.unmarked["reasons"] or [""])[0],
                       (self.unmarked["run_ids"] or [""])[-1])


def _types_of(value: dict[str, Any]) -> list[RecordType] | None:
    return None if value.get("types") is None else [RecordType(t) for t in value["types"]]


async def admit(store: DocumentStore, email: str, types: Sequence[RecordType] | None, now: datetime,
                reason: str, run_id: str) -> Admission:
    """A message arrived: ``run`` is False when a run already took its request (it ends quietly)."""
    doc = await store.get_doc(KIND, email)
    value = _waiting(doc)
    if value is not None and (not run_id or run_id in (value.get("run_ids") or [])):
        return Admission(True, doc)
    if run_id and run_id in ((_running(doc) or {}).get("run_ids") or []):
        return Admission(True, doc)  # taken by a run that has not finished (it may have crashed): look at the lease
    if run_id and run_id in _done(doc):
        return Admission(False, doc)
    return Admission(True, doc, _merge(None, types, now, reason, run_id))


def _parse(value: dict[str, Any]) -> Waiting:
    types = _types(value.get("types"))
    return Waiting(types=None if types is None else frozenset(types),
                   reasons=tuple(value.get("reasons") or ()), run_ids=tuple(value.get("run_ids") or ()),
                   since=datetime.fromisoformat(value.get("since") or value["at"]))


Edit = Callable[[dict[str, Any]], dict[str, Any]]
"""A change a lease holder makes to what rides on the waiting document (see :meth:`Desk.stage`)."""


class Desk:
    """The lease holder's handle on one mailbox's waiting document (see the module docstring).

    ``owner``: the lease holder this desk writes for (None: a caller that holds no lease);
    ``holding``: the last write this desk made left its own lease in the document."""

    def __init__(self, store: DocumentStore, email: str, admission: Admission | None = None, *,
                 owner: str | None = None) -> None:
        self._store, self._email = store, email
        self._known = admission.doc if admission is not None else None
        self._fresh = admission is not None
        self._extra = admission.unmarked if admission is not None else None
        self.owner = owner
        self.holding = False
        self._staged: list[Edit] = []

    def stage(self, edit: Edit) -> None:
        """Apply ``edit`` in the next write this desk makes (to the document as that write read it;
        a write that fails applies it again to the document read after the 412)."""
        self._staged.append(edit)

    def known(self) -> dict[str, Any]:
        """The document as this desk last read or wrote it, with the staged edits applied."""
        value = dict(self._known.value) if self._known is not None else {}
        for edit in self._staged:
            value = edit(value)
        return value

    async def _read(self) -> Stored[dict[str, Any]] | None:
        """The document as last seen (once), then as stored."""
        if self._fresh:
            self._fresh = False
            return self._known
        self._known = await self._store.get_doc(KIND, self._email)
        return self._known

    async def _put(self, doc: Stored[dict[str, Any]] | None, value: dict[str, Any]) -> bool:
        for edit in self._staged:
            value = edit(value)
        written = await _put(self._store, self._email, doc, value)
        if written is not None:
            self._known, self._fresh, self._staged = written, True, []
            self.holding = self.owner is not None and (value.get("holder") or {}).get("owner") == self.owner
        return written is not None

    def _unmarked(self, doc: Stored[dict[str, Any]] | None) -> dict[str, Any] | None:
        """The message's own unmarked request, unless a run took it meanwhile (a duplicate delivery)."""
        extra = self._extra
        if extra is None or set(extra["run_ids"]) & set(_done(doc)):
            return None
        return extra

    async def claim(self, now: datetime, holder: dict[str, Any]) -> tuple[bool, Waiting | None]:
        """Take the lease with what waits: ``(False, None)`` while another owner's lease is live;
        ``(True, waiting)`` otherwise (``waiting`` None: nothing waited, and the lease is let go in
        the same write). An earlier run's request that never finished is taken again."""
        self.owner = holder["owner"]
        return await self._take(now, holder, finished=False)

    async def take(self, now: datetime, *, holder: dict[str, Any] | None = None,
                   finished: bool = False) -> Waiting | None:
        """Consume what waits (None: nothing, or another owner's lease is live), see :func:`take`."""
        if holder is not None:
            self.owner = holder["owner"]
        free, taken = await self._take(now, holder, finished)
        if not free and holder is not None:
            logger.warning("the lease of a mailbox was taken over during its run")
        return taken

    async def _take(self, now: datetime, holder: dict[str, Any] | None,
                    finished: bool) -> tuple[bool, Waiting | None]:
        """``(False, None)``: another owner's lease is live; else ``(True, what was taken)``."""
        for _ in range(_ATTEMPTS):
            doc = await self._read()
            if blocks(_holder(doc), self.owner, now):  # another run's lease: only what rides along
                if doc is not None and self._staged and not await self._put(doc, dict(doc.value)):
                    continue
                return False, None
            running = None if finished else _running(doc)
            value = _union(_union(running, _waiting(doc)), self._unmarked(doc))  # older first
            if value is None:  # nothing waits: the lease is let go (an expired one cleared)
                busy = doc is not None and (doc.value.get("running") or doc.value.get("holder"))
                if (busy or self._staged) and not await self._put(
                        doc, {**(doc.value if doc else {"taken": True}), "running": None, "holder": None}):
                    continue
                self._extra = None
                return True, None
            done = [*_done(doc), *(value.get("run_ids") or [])][-_DONE_KEPT:]
            taken = {"taken": True, "at": now.isoformat(), "done": done, "running": value, **_carry(doc),
                     "holder": holder}
            if await self._put(doc, taken):
                self._extra = None
                return True, _parse(value)
        logger.warning("the waiting request of a mailbox kept changing; left for the next message")
        return True, None

    async def beat(self, holder: dict[str, Any]) -> bool:
        """The holder's heartbeat (owner, last beat, lease end): renews its lease. False: the lease
        is not this holder's any more (taken over after it expired, or let go)."""
        for _ in range(_ATTEMPTS):
            doc = await self._read()
            if doc is None or (_holder(doc) or {}).get("owner") != holder["owner"]:
                return False
            if await self._put(doc, {**doc.value, "holder": holder}):
                return True
        return False

    async def finished(self) -> None:
        """The run of the taken request ended (its outcome is recorded): nothing is running any
        more, and the lease is let go (unless another owner has taken it over)."""
        for _ in range(_ATTEMPTS):
            doc = await self._read()
            if doc is None:
                return
            current = (_holder(doc) or {}).get("owner")
            if self.owner is not None and current not in (None, self.owner):  # taken over
                if not self._staged or await self._put(doc, dict(doc.value)):
                    return
                continue
            if _running(doc) is None and current is None and not self._staged:
                return
            if await self._put(doc, {**doc.value, "running": None, "holder": None}):
                return

    async def release(self) -> None:
        """Let the lease go after a failure: conditional on the document as this holder last wrote
        it; after a 412 the holder is cleared only while it is still this desk's owner. What the
        run left ``running`` stays, for the next holder to take again."""
        for _ in range(_ATTEMPTS):
            if not self.holding and not self._staged:
                return
            doc = await self._read()
            if doc is None:
                return
            mine = self.owner is not None and (_holder(doc) or {}).get("owner") == self.owner
            if not mine and not self._staged:
                self.holding = False
                return
            if await self._put(doc, {**doc.value, "holder": None} if mine else dict(doc.value)):
                return


async def edit(store: DocumentStore, email: str, change: Edit) -> None:
    """Apply ``change`` to ``email``'s waiting document (created taken when there is none): one
    conditional write; raises :class:`ConcurrencyConflict` when it kept losing the race."""
    for _ in range(_ATTEMPTS):
        doc = await store.get_doc(KIND, email)
        if await _write(store, email, doc, change(dict(doc.value) if doc is not None else {"taken": True})):
            return
    raise ConcurrencyConflict("the waiting document of a mailbox kept changing")


async def take(store: DocumentStore, email: str, now: datetime, *, holder: dict[str, Any] | None = None,
               finished: bool = False) -> Waiting | None:
    """Consume what waits for ``email`` (None: nothing, or another owner's lease is live).

    The taken request stays recorded as ``running`` (with the ``holder``'s heartbeat) until the
    next take says ``finished`` (its outcome is recorded) or :func:`finished`. A request an earlier
    run took but never finished (it crashed: we hold the lease now) is taken again with what waits.
    """
    return await Desk(store, email).take(now, holder=holder, finished=finished)


async def beat(store: DocumentStore, email: str, holder: dict[str, Any]) -> bool:
    """The lease holder's heartbeat (owner, last beat, lease end); False: the lease is not its own."""
    return await Desk(store, email).beat(holder)


async def holder_of(store: DocumentStore, email: str) -> dict[str, Any] | None:
    """The heartbeat of the run that holds ``email``'s lease (None: it has not taken anything yet)."""
    doc = await store.get_doc(KIND, email)
    return doc.value.get("holder") if doc is not None else None


async def give_back(store: DocumentStore, email: str, waiting: Waiting, now: datetime) -> None:
    """A run that did not happen (throttled, crashed before work): the request waits again."""
    reasons = waiting.reasons or ("",)
    run_ids = waiting.run_ids or ("",)
    for reason in reasons:
        await mark(store, email, waiting.record_types, now, reason, run_ids[-1])


async def finished(store: DocumentStore, email: str) -> None:
    """The run of the taken request ended (its outcome is recorded): nothing is running any more."""
    await Desk(store, email).finished()


async def reopen(store: DocumentStore, email: str, waiting: Waiting) -> None:
    """A run that failed: a message of its requests that comes again (a retry) runs them again."""
    for _ in range(_ATTEMPTS):
        doc = await store.get_doc(KIND, email)
        if doc is None:
            return
        done = [r for r in _done(doc) if r not in waiting.run_ids]
        if done == _done(doc) or await _write(store, email, doc, {**doc.value, "done": done}):
            return


async def explain(store: DocumentStore, email: str, why: str | None) -> None:
    """Say why the waiting request of ``email`` still waits (shown by the status API)."""
    for _ in range(_ATTEMPTS):
        doc = await store.get_doc(KIND, email)
        value = _waiting(doc)
        if value is None or value.get("why") == why:
            return
        if await _write(store, email, doc, {**value, "why": why}):
            return


async def clear(store: DocumentStore, email: str, now: datetime | None = None) -> None:
    """Drop what waits (the run was aborted or set aside visibly)."""
    for _ in range(_ATTEMPTS):
        doc = await store.get_doc(KIND, email)
        dropped = _union(_waiting(doc), _running(doc))
        if dropped is None:
            return
        assert doc is not None
        at = now.isoformat() if now else doc.value["at"]
        done = [*_done(doc), *(dropped.get("run_ids") or [])][-_DONE_KEPT:]
        if await _write(store, email, doc, {"taken": True, "at": at, "done": done, "running": None,
                                            **_carry(doc)}):
            return


async def describe(store: DocumentStore, email: str) -> dict[str, object] | None:
    """The waiting request of ``email`` for the status API (None: nothing waits)."""
    value = _waiting(await store.get_doc(KIND, email))
    if value is None:
        return None
    return {"since": value.get("since") or value["at"], "types": value.get("types"),
            "reasons": value.get("reasons") or [], "why": value.get("why")}


async def running_run(store: DocumentStore, email: str) -> tuple[str, str] | None:
    """``(run id, taken at)`` of a request a run took and has not recorded yet (None: none)."""
    doc = await store.get_doc(KIND, email)
    running = _running(doc)
    if doc is None or running is None or not running.get("run_ids"):
        return None
    return str(running["run_ids"][-1]), str(doc.value.get("at") or running["at"])


async def why(store: DocumentStore, email: str) -> str | None:
    """Why the waiting request of ``email`` waits (None: nothing waits, or it is simply queued)."""
    value = _waiting(await store.get_doc(KIND, email))
    return None if value is None else value.get("why")


async def wake_up(store: DocumentStore, queue: SyncQueue, wanted: Sequence[tuple[str, SyncRequest]], now: datetime,
                  max_age: timedelta, *, coalesce: bool = True, delay_for: Callable[[int], int] | None = None,
                  marked: Callable[[SyncRequest], Awaitable[None]] | None = None) -> int:
    """For each ``(key, request)``: unless ``coalesce`` finds a waiting request of ``key`` younger
    than ``max_age`` that covers it, merge it into what waits, call ``marked`` and send it as a
    wake-up call (delayed by ``delay_for(index)`` seconds). Returns how many were sent."""
    sent = 0
    for index, (key, request) in enumerate(wanted):
        if coalesce and await covered(store, key, request.record_types, now, max_age):
            continue
        await mark(store, key, request.record_types, now, request.reason, request.run_id)
        if marked is not None:
            await marked(request)
        await queue.send(request, delay_for(index) if delay_for else 0)
        sent += 1
    return sent
