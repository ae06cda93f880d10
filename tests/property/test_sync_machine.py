"""Hypothesis state machine over both sides: random user edits, policy changes, faults and crashes.

The world is the in-memory mailbox, ERP and state store; the engine runs between user steps.
The expected outcome of a sync is computed from the world as the engine finds it (each pair's
content at the last convergence, both sides' current items) and the policy, so invariants are
checked against what the rules say, not against the engine's own view. Invariants (DESIGN.md):

1 convergence after a clean run          2 a second run writes nothing
3 no lost edits                          4 deletes only when justified
5 conflicts resolved per policy, equal content is no conflict
6 resume after a crash reaches the same state
7 no duplicates on either side           8 spurious version changes cause no writes
9 no blind overwrites                    10 a direction-restricted side is never written
11 mass-deletion guard (unit-tested in tests/unit/sync; here the threshold is 1.0)
12 failures are visible                  13 each id is linked at most once per side

1, 3, 4, 5, 6 are one check: after a clean run (or a crashed/faulty run and its resumption) both
sides hold exactly the expected multiset of contents and every item is linked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from shared.domain.config import ConflictResolution, Direction, ServerConfig, SyncPolicy
from shared.domain.records import Contact, Event, Importance, Record, RecordType, Task, TaskStatus
from shared.domain.status import RunState, RunSummary
from shared.errors import ConcurrencyConflict, ExsyncError, RemoteError
from shared.ports import CursorBook, ErpItem, ErpWrite, Link, MailboxItem, MailboxWrite, WriteKind
from shared.sync import handover, names
from shared.sync.feed import FOLLOWS, read_feed
from shared.sync.routing import Subscriber
from tests.unit.sync.harness import EMAIL, EMPLOYEE, Crash, Harness, crash_after_writes

# ---------------------------------------------------------------- record generation

POOLS: dict[RecordType, dict[str, tuple[Any, ...]]] = {
    RecordType.CONTACT: {"first_name": ("Ann", "Bob", "Cy"), "job_title": ("", "CEO", "CTO"),
                         "city": ("", "Oslo", "Rome")},
    RecordType.TASK: {"title": ("Call", "Mail", "Visit"),
                      "importance": (Importance.LOW, Importance.NORMAL, Importance.HIGH),
                      "status": (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED,
                                 TaskStatus.WAITING_ON_OTHERS)},
    RecordType.EVENT: {"subject": ("Sync", "Demo", "Lunch"), "location": ("", "Room 1", "Room 2")},
}
START = datetime(2026, 3, 1, 9, tzinfo=UTC)


def new_record(record_type: RecordType, uid: int, values: dict[str, Any]) -> Record:
    if record_type is RecordType.CONTACT:
        return Contact(notes=f"uid{uid}", email=f"u{uid}@example.com", **values)
    if record_type is RecordType.TASK:
        return Task(body=f"uid{uid}", **values)
    return Event(body=f"uid{uid}", organizer=EMAIL, start=START, end=START, **values)


def uid_of(record: Record) -> str:
    return record.notes if isinstance(record, Contact) else getattr(record, "body", "")


def field_values(record_type: RecordType) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({k: st.sampled_from(v) for k, v in POOLS[record_type].items()})


def h(record: Record) -> str:
    return record.content_hash()


# ---------------------------------------------------------------- the expected outcome


def merged(erp: ErpItem[Any], mbx: MailboxItem[Any], base: Record) -> Record:
    """Field merge as the rules state it: one-sided field changes win, both-sided go to the newer side."""
    e, m, b = erp.record.as_dict(), mbx.record.as_dict(), base.as_dict()
    take = {}
    for name in e:
        if e[name] == m[name] or m[name] == b[name]:
            continue
        if e[name] == b[name] or erp.modified_at < mbx.modified_at:
            take[name] = mbx.record.field_values()[name]
    return erp.record.with_fields(take)


def expected_for_pair(erp: ErpItem[Any] | None, mbx: MailboxItem[Any] | None, base: Record,
                      policy: ConflictResolution) -> list[Record]:
    e_changed = erp is not None and h(erp.record) != h(base)
    m_changed = mbx is not None and h(mbx.record) != h(base)
    if erp is None and mbx is None:
        return []
    if erp is None:
        assert mbx is not None
        return [mbx.record] if m_changed else []        # delete propagates unless modified (modified wins)
    if mbx is None:
        return [erp.record] if e_changed else []
    if not e_changed and not m_changed:
        return [base]
    if e_changed and not m_changed:
        return [erp.record]
    if m_changed and not e_changed:
        return [mbx.record]
    if h(erp.record) == h(mbx.record):
        return [erp.record]                                # equal content is no conflict
    if policy is ConflictResolution.SYSTEM:
        return [erp.record]
    if policy is ConflictResolution.EXCHANGE:
        return [mbx.record]
    if policy is ConflictResolution.LAST_UPDATED:
        return [erp.record] if erp.modified_at >= mbx.modified_at else [mbx.record]
    if policy is ConflictResolution.KEEP_BOTH:
        return [erp.record, mbx.record]
    return [merged(erp, mbx, base)]


@dataclasses.dataclass(frozen=True)
class Fault:
    where: str          # erp_call | erp_write | mbx_call | mbx_write | state
    k: int
    crash: bool
    method: str = "put_link"


FAULTS = st.one_of(
    st.none(),
    st.builds(Fault, st.sampled_from(["erp_call", "mbx_call"]), st.integers(1, 12), st.booleans()),
    st.builds(Fault, st.sampled_from(["erp_write", "mbx_write", "erp_crash_after", "mbx_crash_after"]),
              st.integers(1, 4), st.booleans()),
    st.builds(Fault, st.just("state"), st.just(1), st.booleans(),
              st.sampled_from(["put_link", "put_links", "delete_link", "put_cursors", "put_intents",
                               "delete_intent", "delete_intents", "get_link_by_erp", "get_link_by_mailbox", "get_links",
                               "list_intents", "list_mailbox_intents"])),
)


# ---------------------------------------------------------------- the machine


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.w: Harness
        self.record_type = RecordType.CONTACT
        self.uids = itertools.count(1)
        self.pairs: dict[str, tuple[str, Record]] = {}   # erp id -> (mailbox id, content at convergence)
        self.used_keep_both = False
        self.restore: Any = None

    def teardown(self) -> None:
        self.loop.close()

    # ------------------------------------------------------------ setup

    @initialize(record_type=st.sampled_from([RecordType.CONTACT, RecordType.TASK, RecordType.EVENT]),
                direction=st.sampled_from([Direction.BIDIRECTIONAL] * 4 + list(Direction)),
                conflict=st.sampled_from(list(ConflictResolution)),
                batch=st.integers(1, 4), page=st.integers(1, 5),
                seed_erp=st.integers(0, 4), seed_mailbox=st.integers(0, 3), data=st.data())
    def setup(self, record_type: RecordType, direction: Direction, conflict: ConflictResolution,
              batch: int, page: int, seed_erp: int, seed_mailbox: int, data: st.DataObject) -> None:
        self.record_type = record_type
        section = {RecordType.CONTACT: "contacts", RecordType.TASK: "tasks", RecordType.EVENT: "events"}
        policy = SyncPolicy.model_validate({"name": "p", "conflict_resolution": conflict,
                                            section[record_type]: {"direction": direction}})
        server = ServerConfig(name="s1", update_batch_size=batch, select_batch_size=page,
                              mass_delete_threshold=1.0)
        self.w = Harness(policy, server)
        self.used_keep_both = conflict is ConflictResolution.KEEP_BOTH
        for _ in range(seed_erp):
            self.w.user_erp_create(record_type, new_record(record_type, next(self.uids),
                                                           data.draw(field_values(record_type))))
        for _ in range(seed_mailbox):
            self.w.user_mailbox_create(record_type, new_record(record_type, next(self.uids),
                                                               data.draw(field_values(record_type))))
        self.sync(None)

    @property
    def direction(self) -> Direction:
        section = {RecordType.CONTACT: self.w.policy.contacts, RecordType.TASK: self.w.policy.tasks,
                   RecordType.EVENT: self.w.policy.events}[self.record_type]
        return section.direction

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def erp_items(self) -> list[ErpItem[Any]]:
        return self.w.erp_items(self.record_type)

    def mbx_items(self) -> list[MailboxItem[Any]]:
        return self.w.mailbox_items(self.record_type)

    # ------------------------------------------------------------ user steps

    @rule(values=st.data())
    def erp_user_creates(self, values: st.DataObject) -> None:
        record = new_record(self.record_type, next(self.uids), values.draw(field_values(self.record_type)))
        self.w.user_erp_create(self.record_type, record)

    @rule(values=st.data())
    def mailbox_user_creates(self, values: st.DataObject) -> None:
        record = new_record(self.record_type, next(self.uids), values.draw(field_values(self.record_type)))
        self.w.user_mailbox_create(self.record_type, record)

    @precondition(lambda self: bool(self.erp_items()))
    @rule(i=st.integers(0, 50), data=st.data())
    def erp_user_edits(self, i: int, data: st.DataObject) -> None:
        items = self.erp_items()
        item = items[i % len(items)]
        self.w.erp.user_update(item.id, item.record.with_fields(data.draw(field_values(self.record_type))))

    @precondition(lambda self: bool(self.mbx_items()))
    @rule(i=st.integers(0, 50), data=st.data())
    def mailbox_user_edits(self, i: int, data: st.DataObject) -> None:
        items = self.mbx_items()
        item = items[i % len(items)]
        self.w.mbx.user_update(EMAIL, item.id, item.record.with_fields(data.draw(field_values(self.record_type))))

    @precondition(lambda self: bool(self.pairs))
    @rule(i=st.integers(0, 50), data=st.data(), erp_first=st.booleans())
    def both_sides_edit_one_pair(self, i: int, data: st.DataObject, erp_first: bool) -> None:
        """The same record edited in the ERP and in the mailbox before the next sync (a conflict)."""
        erp_id, (mbx_id, _) = sorted(self.pairs.items())[i % len(self.pairs)]
        erp = {x.id: x for x in self.erp_items()}.get(erp_id)
        mbx = {x.id: x for x in self.mbx_items()}.get(mbx_id)
        steps = []
        if erp is not None:
            record = erp.record.with_fields(data.draw(field_values(self.record_type)))
            steps.append(lambda: self.w.erp.user_update(erp_id, record))
        if mbx is not None:
            mrecord = mbx.record.with_fields(data.draw(field_values(self.record_type)))
            steps.append(lambda: self.w.mbx.user_update(EMAIL, mbx_id, mrecord))
        for step in steps if erp_first else reversed(steps):
            step()

    @precondition(lambda self: bool(self.erp_items()))
    @rule(i=st.integers(0, 50))
    def erp_user_deletes(self, i: int) -> None:
        items = self.erp_items()
        self.w.erp.user_delete(items[i % len(items)].id)

    @precondition(lambda self: bool(self.mbx_items()))
    @rule(i=st.integers(0, 50))
    def mailbox_user_deletes(self, i: int) -> None:
        items = self.mbx_items()
        self.w.mbx.user_delete(EMAIL, items[i % len(items)].id)

    @precondition(lambda self: bool(self.erp_items()) or bool(self.mbx_items()))
    @rule(i=st.integers(0, 50), erp_side=st.booleans())
    def spurious_version_change(self, i: int, erp_side: bool) -> None:
        if erp_side and self.erp_items():
            items = self.erp_items()
            self.w.erp.touch(items[i % len(items)].id)
        elif self.mbx_items():
            items = self.mbx_items()
            self.w.mbx.touch(EMAIL, items[i % len(items)].id)

    @rule(conflict=st.sampled_from(list(ConflictResolution)))
    def admin_changes_conflict_policy(self, conflict: ConflictResolution) -> None:
        self.w.policy = self.w.policy.model_copy(update={"conflict_resolution": conflict})
        self.used_keep_both |= conflict is ConflictResolution.KEEP_BOTH

    @rule(batch=st.integers(1, 4), page=st.integers(1, 5))
    def admin_changes_batch_sizes(self, batch: int, page: int) -> None:
        self.w.server = self.w.server.model_copy(update={"update_batch_size": batch, "select_batch_size": page})

    @rule()
    def delta_cursor_expires(self) -> None:
        self.w.mbx.invalidate_cursors(EMAIL)

    @rule()
    def delta_replays(self) -> None:
        self.w.mbx.replay_next(EMAIL, self.w.container(self.record_type))

    # ------------------------------------------------------------ sync

    def expected(self) -> Counter[str] | None:
        """The multiset of contents both sides must hold after the next clean sync."""
        if self.direction is not Direction.BIDIRECTIONAL:
            return None
        erp = {i.id: i for i in self.erp_items()}
        mbx = {i.id: i for i in self.mbx_items()}
        out: Counter[str] = Counter()
        for erp_id, (mbx_id, base) in self.pairs.items():
            for record in expected_for_pair(erp.pop(erp_id, None), mbx.pop(mbx_id, None), base,
                                            self.w.policy.conflict_resolution):
                out[h(record)] += 1
        for item in [*erp.values(), *mbx.values()]:       # new since the last convergence
            out[h(item.record)] += 1
        return out

    def arm(self, fault: Fault) -> None:
        error: BaseException = Crash() if fault.crash else RemoteError("injected", status=503)
        if fault.where == "erp_call":
            self.w.erp.fail_call(fault.k, error)  # type: ignore[arg-type]
        elif fault.where == "erp_write":
            self.w.erp.fail_write(fault.k, error if not fault.crash else ConcurrencyConflict("stale"))
        elif fault.where == "mbx_call":
            self.w.mbx.fail_call(fault.k, error)  # type: ignore[arg-type]
        elif fault.where == "mbx_write":
            self.w.mbx.fail_write(fault.k, error if not fault.crash else ConcurrencyConflict("stale"))
        elif fault.where.endswith("crash_after"):
            self.crash_after_write(fault.where.startswith("erp"), fault.k)
        else:
            self.w.state.fail_next(fault.method, error)

    def crash_after_write(self, erp_side: bool, k: int) -> None:
        """The process dies right after the batch holding the k-th write succeeded (before bookkeeping)."""
        self.restore = crash_after_writes(self.w.erp if erp_side else self.w.mbx, k)

    def disarm(self) -> bool:
        """Clear unfired faults; True if the armed fault fired."""
        pending = (bool(self.w.erp.faults._call_faults or self.w.erp.faults._write_faults
                        or self.w.mbx.faults._call_faults or self.w.mbx.faults._write_faults)
                   or any(self.w.state._faults.values()))
        crash_pending = self.restore is not None and (self.w.erp.apply != self.w.erp.__class__.apply.__get__(
            self.w.erp) or self.w.mbx.apply != self.w.mbx.__class__.apply.__get__(self.w.mbx))
        if self.restore is not None:
            self.restore()
            self.restore = None
        self.w.erp.faults.clear()
        self.w.mbx.faults.clear()
        self.w.state.clear_faults()
        return not pending and not crash_pending

    def sync_once(self) -> RunSummary | BaseException:
        try:
            return self.run(self.w.run(self.record_type))  # type: ignore[no-any-return]
        except (Crash, ExsyncError) as exc:
            return exc

    @rule(fault=FAULTS)
    def sync(self, fault: Fault | None) -> None:
        expected = self.expected()
        event(f"sync with pairs={min(len(self.pairs), 3)} dir={self.direction.value}")
        if fault is not None:
            self.arm(fault)
            outcome = self.sync_once()
            fired = self.disarm()
            event(f"fault {fault.where} crash={fault.crash} fired={fired}")
            # 12: a fault that fired is visible: the run raised or is not reported as a success.
            silent = fault.crash or fault.where.endswith("crash_after")
            if fired and not silent and isinstance(outcome, RunSummary):
                assert outcome.state is not RunState.SUCCEEDED, (fault, outcome)
        else:
            outcome = self.sync_once()
            if isinstance(outcome, RunSummary):
                conflicts = sum(c.conflicts for c in outcome.counts.values())
                event(f"clean sync: conflicts={min(conflicts, 1)} {self.w.policy.conflict_resolution.value}")
        # 6: resuming (plain runs) reaches the state a clean run reaches.
        for _ in range(4):
            if isinstance(outcome, RunSummary) and outcome.state is RunState.SUCCEEDED:
                break
            outcome = self.sync_once()
        assert isinstance(outcome, RunSummary) and outcome.state is RunState.SUCCEEDED, outcome
        self.check_converged(expected)
        # 2 and 8: a second run writes nothing (spurious version changes included).
        before = (len(self.w.erp.applied), len(self.w.mbx.applied))
        again = self.sync_once()
        assert isinstance(again, RunSummary) and again.state is RunState.SUCCEEDED, again
        assert (len(self.w.erp.applied), len(self.w.mbx.applied)) == before, "second run wrote"

    def check_converged(self, expected: Counter[str] | None) -> None:
        links = self.links()
        if expected is not None:
            erp = Counter(h(i.record) for i in self.erp_items())
            mbx = Counter(h(i.record) for i in self.mbx_items())
            # 1, 3, 4, 5: both sides hold exactly the expected contents.
            assert erp == expected, ("erp", erp, expected)
            assert mbx == expected, ("mailbox", mbx, expected)
            # every item is linked to its twin with equal content
            assert len(links) == len(self.erp_items()) == len(self.mbx_items())
        erp_by_id = {i.id: i for i in self.erp_items()}
        mbx_by_id = {i.id: i for i in self.mbx_items()}
        self.pairs = {}
        for link in links:
            e, m = erp_by_id.get(link.erp_id), mbx_by_id.get(link.mailbox_id)
            if e is None or m is None:
                assert expected is None, ("dangling link", link)
                continue
            if expected is not None:
                assert h(e.record) == h(m.record), ("linked items differ", e.record, m.record)
            self.pairs[link.erp_id] = (link.mailbox_id, e.record)

    def links(self) -> list[Link]:
        out: list[Link] = []
        cursor = None
        while True:
            page = self.run(self.w.state.list_links(EMAIL, self.record_type, cursor, 100))
            out += [link for link in page.items if isinstance(link, Link)]
            if page.complete:
                return out
            cursor = page.cursor

    # ------------------------------------------------------------ invariants after every step

    @invariant()
    def each_id_linked_once(self) -> None:  # 13
        if not hasattr(self, "w"):
            return
        links = self.links()
        assert len({link.erp_id for link in links}) == len(links)
        assert len({link.mailbox_id for link in links}) == len(links)

    @invariant()
    def writes_are_conditional_and_direction_respected(self) -> None:  # 9, 10
        if not hasattr(self, "w"):
            return
        for _, mw in self.w.mbx.applied:
            assert isinstance(mw, MailboxWrite)
            if mw.kind in (WriteKind.UPDATE, WriteKind.DELETE, WriteKind.CANCEL):
                assert mw.etag, mw
        for ew in self.w.erp.applied:
            assert isinstance(ew, ErpWrite)
            if ew.kind in (WriteKind.UPDATE, WriteKind.DELETE):
                assert ew.version, ew
        if not self.direction.writes_erp:
            assert not self.w.erp.applied
        if not self.direction.writes_mailbox:
            assert not self.w.mbx.applied

    @invariant()
    def no_duplicates(self) -> None:  # 7
        if not hasattr(self, "w") or self.used_keep_both:
            return
        for items in (self.erp_items(), self.mbx_items()):
            uids = Counter(uid_of(i.record) for i in items)
            assert all(n == 1 for n in uids.values()), uids


TestSyncMachine = SyncMachine.TestCase


# ---------------------------------------------------------------- the same machine over the tenant ERP feed


class FeedSyncMachine(SyncMachine):
    """Every sync is a scheduled cycle with the tenant ERP feed: the feed read (one listing, routed
    to the mailbox's scope) and then the run, which consumes its routed changes once its own first
    listing handed over. Faults and crashes now also hit the feed: a crash between routing and the
    watermark save (``put_feed_cursor``), between routing and consumption (the run fails after the
    read), while routed changes are removed; an admin reset (a scope change) sends the mailbox
    back to its own full listing, after which it follows the feed again; and the feed is switched
    off and on (own incremental listings, then the hand-over from them). The invariants are the same."""

    feed_on = True
    """``EXSYNC_ERP_FEED``: off, nobody reads the feed and the runs list the ERP themselves."""

    def subscribers(self) -> list[Subscriber]:
        return [Subscriber(EMAIL, EMPLOYEE, frozenset({self.record_type}))]

    def sync_once(self) -> RunSummary | BaseException:
        self.w.feed = self.feed_on
        if not self.feed_on:
            return super().sync_once()
        try:
            self.run(read_feed(self.w.erp, self.w.state, self.record_type, self.subscribers(),
                               page_size=self.w.server.select_batch_size))
        except (Crash, ExsyncError) as exc:
            return exc
        book = self.run(self.w.state.get_cursors(EMAIL)).values
        start = handover.start_of(book.get(names.erp_cursor(self.record_type)),
                                  book.get(names.erp_feed_mark(self.record_type)), FOLLOWS)
        event(f"feed: the run's ERP side starts {start.value}")
        return super().sync_once()

    @rule()
    def admin_resets_the_export(self) -> None:
        """The mailbox's scope changed (the admin's reset): its ERP side is listed in full again."""
        self.run(self.w.state.delete_cursor(EMAIL, names.erp_cursor(self.record_type)))

    @rule(on=st.booleans())
    def admin_switches_the_feed(self, on: bool) -> None:
        """The feed switched off (a type that followed it lists the ERP in full again, then keeps
        its own cursor) or on again (the feed lists from its old watermark and routes everything
        since; each type finishes one more own listing, marks, and hands over after the next)."""
        self.feed_on = on

    @precondition(lambda self: bool(self.erp_items()) and self.feed_on)
    @rule(i=st.integers(0, 50), data=st.data())
    def feed_routes_while_the_run_works(self, i: int, data: st.DataObject) -> None:
        """The bump/consume race: an ERP edit is routed by a feed read that lands after the run read
        its cursor book and before it flushed. The run may miss the change, but its flush must keep
        the feed's bump, so the next cycle (whose own feed read lists nothing new) consumes it. A
        clean cycle first, so the edit is all the racing run has to miss."""
        self.sync(None)
        items = self.erp_items()
        if not items:
            return
        item = items[i % len(items)]
        self.w.erp.user_update(item.id, item.record.with_fields(data.draw(field_values(self.record_type))))
        if data.draw(st.booleans(), label="the run writes its book"):  # a full resync: a new delta link
            self.w.mbx.invalidate_cursors(EMAIL)
        original = self.w.state.get_cursors

        async def get_cursors(mailbox: str) -> CursorBook:
            book = await original(mailbox)
            self.w.state.get_cursors = original  # type: ignore[method-assign]
            await read_feed(self.w.erp, self.w.state, self.record_type, self.subscribers(),
                            page_size=self.w.server.select_batch_size)
            return book

        self.w.feed = True
        self.w.state.get_cursors = get_cursors  # type: ignore[method-assign]
        try:
            raced = super().sync_once()
        finally:
            self.w.state.get_cursors = original  # type: ignore[method-assign]
        for _ in range(4):  # plain runs, no feed read: only the bump can show them the edit
            if isinstance(raced, RunSummary) and raced.state is RunState.SUCCEEDED:
                break
            raced = super().sync_once()
        event(f"feed race: run outcome {type(raced).__name__}")
        if isinstance(raced, RunSummary) and raced.state is RunState.SUCCEEDED:
            # what the runs linked is converged, except the edit they may have missed: the
            # mailbox side still holds the content before it
            mbx = {m.id: m for m in self.mbx_items()}
            self.pairs = {link.erp_id: (link.mailbox_id, mbx[link.mailbox_id].record) for link in self.links()
                          if link.mailbox_id in mbx}
        self.sync(None)

    @rule(fault=st.builds(Fault, st.just("state"), st.just(1), st.booleans(),
                          st.sampled_from(["put_routed", "put_cursors", "put_feed_cursor", "list_feed_cursors",
                                           "get_feed_cursor",
                                           "list_routed", "list_mailbox_routed", "delete_routed"])))
    def sync_with_a_feed_fault(self, fault: Fault) -> None:
        self.sync(fault)


TestFeedSyncMachine = FeedSyncMachine.TestCase
TestFeedSyncMachine.settings = settings(settings.default, max_examples=max(50, settings.default.max_examples // 3))
