"""The engine's entry point: sync one mailbox, every enabled record type, and report.

Per record type (:func:`sync_type`):

1. resolve create intents a crashed run left behind (look the stamp / origin up, link, never
   create again);
2. the ERP pass: read the ERP's changes since the ``"<type>.erp"`` watermark page by page; pair,
   plan and execute each page; save the watermark after a page only when every action of the run
   so far was recorded;
3. the mailbox pass: the same over the Graph delta of the type's container (``"<type>.mailbox"``);
   a dead delta cursor (SyncStateLost) restarts it as a full listing, which re-links by stamp and
   content and creates nothing twice;
   once a day (``ERP_RECONCILE_INTERVAL``) the links' ERP ids are checked against the ERP,
   because the ERP's queries never show a deletion and push notifications can be missed;
4. queued deletions under the mass-deletion guard (:mod:`shared.sync.deletes`);
5. the final cursors; the export / import dates go into the outcome (the worker writes the status).
   Cursors are read once per run and written once when they changed (:mod:`shared.sync.cursors`).

After a full listing (first run, reset, resync), the links are swept page by page and each page's
ids asked with ``existing_ids``; a link whose item is gone is checked one by one, so deletions
missed while the cursor was dead are found. Memory stays bounded by the page size: no pass holds
the ids of a whole folder or ERP scope (the stamps of a first listing are kept only up to
``STAMP_MEMORY_PAGES`` pages). See :mod:`shared.sync.names`
for the cursor naming scheme and how an admin's status reset is honoured.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.domain.config import SyncPolicy
from shared.domain.records import RecordType
from shared.domain.status import LogLevel, MailboxStatus, RunState, RunSummary
from shared.errors import ExsyncError, SyncStateLost
from shared.ports import (
    ErpScope,
    Intent,
    Link,
    MailboxItem,
    Page,
    Removed,
    Side,
    SyncJob,
    SyncOutcome,
)
from shared.sync import category, feed, handover, names
from shared.sync.context import RunLog, Tally, TypeContext, describe
from shared.sync.cursors import RunCursors
from shared.sync.deletes import run_deletes
from shared.sync.execute import execute_page
from shared.sync.hyperlink import HyperlinkView
from shared.sync.intent_flag import OpenIntents
from shared.sync.intents import resolve_intents
from shared.sync.pairing import pair_erp_entry
from shared.sync.plan import Pair, TypeRules, plan
from shared.sync.sides import SideView, erp_view, mailbox_view, routed_page

logger = logging.getLogger(__name__)

STAMP_MEMORY_PAGES = 10
"""A first full mailbox read remembers its items' stamps up to this many pages' worth."""

ERP_RECONCILE_INTERVAL = timedelta(hours=24)
"""How often the links' ERP ids are checked against the ERP (deletions the listing cannot show)."""

ROUTED_PEEK = 100
"""Routed changes a run reads at its start to learn which types have nothing waiting."""

ALL_TYPES: tuple[RecordType, ...] = (RecordType.CONTACT, RecordType.EMAIL, RecordType.TASK, RecordType.EVENT)


@dataclasses.dataclass(slots=True)
class PassOutcome:
    """How one pass (one side of one type) ended."""

    side: Side
    start: str | None = None
    """The cursor the pass listed from (None: a full listing)."""
    final_cursor: str | None = None
    failures: int = 0
    complete: bool = False
    items: int = 0


def enabled_types(policy: SyncPolicy, wanted: Collection[RecordType] | None) -> list[RecordType]:
    sections = {RecordType.CONTACT: policy.contacts.enabled, RecordType.EMAIL: policy.emails.enabled,
                RecordType.TASK: policy.tasks.enabled, RecordType.EVENT: policy.events.enabled}
    return [t for t in ALL_TYPES if sections[t] and (wanted is None or t in wanted)]


def container_name(policy: SyncPolicy, record_type: RecordType) -> str | None:
    return {RecordType.CONTACT: policy.contacts.folder, RecordType.EMAIL: policy.emails.folder,
            RecordType.TASK: policy.tasks.folder, RecordType.EVENT: policy.events.folder}[record_type]


async def sync(job: SyncJob) -> SyncOutcome:
    """Sync one mailbox; never raises for an item or a type failing (they make the run WARNING/FAILED).

    Writes links, cursors, intents and log lines; the mailbox status is the caller's (the outcome).
    """
    mailbox, policy, clock, state = job.mailbox, job.policy, job.clock, job.state
    started = clock.now()
    tally = Tally()
    log = RunLog(LogLevel.threshold(job.server.logging_level), clock)
    types = enabled_types(policy, job.record_types)
    status = job.status
    if status is None:
        stored = await state.get_status(mailbox.email)
        status = stored.value if stored else MailboxStatus(email=mailbox.email)
    export_dates: dict[RecordType, datetime] = {}
    import_dates: dict[RecordType, datetime] = {}
    warnings: list[str] = []
    type_errors = 0
    cursors = await RunCursors.load(state, mailbox.email)
    intent_flag = OpenIntents(cursors)
    intents = await _open_intents(job, intent_flag, types)
    routed = await _routed_types(job, cursors, types)
    waiting = routed.waiting if routed is not None else None
    drained: set[RecordType] = set()
    if (types and policy_writes_mailbox(policy, types)
            and category.check_due(cursors.get(category.CATEGORY_MARK), policy.category, started)):
        try:
            await job.mailbox_gateway.ensure_category(mailbox.email, policy.category.name, policy.category.color)
            cursors.put(category.CATEGORY_MARK, category.mark(policy.category, started))
        except ExsyncError as exc:
            warnings.append(f"the category could not be created: {type(exc).__name__}"
                            + (f"; {exc.fix}" if exc.fix else ""))
            log.add(LogLevel.WARNING, f"creating the category failed: {describe(exc)}")
    for record_type in types:
        if type_errors and not policy.continue_on_error:
            log.add(LogLevel.WARNING, f"{record_type} not synced: the policy stops a run at the first error",
                    record_type)
            type_errors += 1
            continue
        try:
            ctx = await _context(job, record_type, tally, log, cursors)
            ctx.open_intents = [i for i in intents if i.record_type is record_type]
            ctx.intent_flag = intent_flag
            ctx.nothing_routed = waiting is not None and record_type not in waiting
            erp_pass, mailbox_pass = await sync_type(ctx, status, job.progress)
            if ctx.routed_drained:
                drained.add(record_type)
        except ExsyncError as exc:
            type_errors += 1
            log.add(LogLevel.ERROR, f"{record_type} sync stopped: {describe(exc)}; "
                    "retried next run", record_type)
            continue
        warnings += ctx.warnings
        now = clock.now()
        if erp_pass.complete:
            export_dates[record_type] = now
        if mailbox_pass.complete:
            import_dates[record_type] = now
        if erp_pass.complete and job.type_saved is not None:
            if job.removals.of(record_type):  # the watermark is durable before its removals are dropped
                await cursors.flush()
            await job.type_saved(record_type)
    _log_counts(log, tally, types)
    run_state = _state(tally, warnings, type_errors, len(types))
    notes = list(warnings)
    if tally.failed():
        notes.append(f"{tally.failed()} item(s) failed and are retried next run; see the log")
    if type_errors:
        notes.append(f"{type_errors} record type(s) stopped with an error; see the log")
    summary = RunSummary(run_id=job.run_id, state=run_state, started_at=started, finished_at=clock.now(),
                         counts=tally.as_counts(), message="; ".join(notes))
    intent_flag.settle()
    if routed is not None:
        routed.settle(cursors, drained)
    await cursors.flush()
    if log.entries:
        await state.append_log(mailbox.email, log.entries)
    return SyncOutcome(summary, export_dates, import_dates, tuple(notes))


async def _open_intents(job: SyncJob, flag: OpenIntents, types: list[RecordType]) -> list[Intent]:
    """The mailbox's open intents, read only when the cursor book does not say there are none."""
    if not types:
        return []
    intents = await job.state.list_mailbox_intents(job.mailbox.email) if flag.must_list else []
    flag.listed(intents)
    return intents


async def _routed_types(job: SyncJob, cursors: RunCursors, types: list[RecordType]) -> feed.Routed | None:
    """The types with routed changes waiting, read once for every type that follows the feed, and
    only when the feed routed some since the mailbox last consumed them (None: not known, each
    routed pass asks for its own)."""
    following = [t for t in types if cursors.get(names.erp_cursor(t)) == feed.FOLLOWS]
    if not job.feed or not following:
        return None
    routed = feed.Routed.of(cursors)
    if routed.consumed:
        return routed
    peek = await job.state.list_mailbox_routed(job.mailbox.email, ROUTED_PEEK)
    return routed.peeked(None if len(peek) >= ROUTED_PEEK else {c.record_type for c in peek})


def policy_writes_mailbox(policy: SyncPolicy, types: Collection[RecordType]) -> bool:
    return any(TypeRules.of(policy, t).direction.writes_mailbox for t in types)


def _state(tally: Tally, warnings: list[str], type_errors: int, types: int) -> RunState:
    if types and type_errors == types:
        return RunState.FAILED
    if tally.failed() or warnings or type_errors:
        return RunState.WARNING
    return RunState.SUCCEEDED


def _log_counts(log: RunLog, tally: Tally, types: list[RecordType]) -> None:
    counts = tally.as_counts()
    for record_type in types:
        for side in (Side.MAILBOX, Side.ERP):
            c = counts.get(f"{record_type.value}.{side.value}")
            if c is None:
                continue
            level = LogLevel.WARNING if c.failed else LogLevel.INFORMATIONAL
            log.add(level, f"{record_type} in the {side}: created {c.created}, updated {c.updated}, "
                    f"deleted {c.deleted}, conflicts {c.conflicts}, skipped {c.skipped}, failed {c.failed}",
                    record_type)


async def _context(job: SyncJob, record_type: RecordType, tally: Tally, log: RunLog,
                   cursors: RunCursors) -> TypeContext:
    mailbox, policy, mailbox_gateway = job.mailbox, job.policy, job.mailbox_gateway
    container = await mailbox_gateway.ensure_container(mailbox.email, record_type,
                                                       container_name(policy, record_type))
    sent = None
    if record_type is RecordType.EMAIL:
        sent = await mailbox_gateway.ensure_container(mailbox.email, record_type, names.SENT_ITEMS)
    if record_type is RecordType.CONTACT and policy.contacts.hyperlink:
        mailbox_gateway = HyperlinkView(mailbox_gateway, policy.contacts.hyperlink)
    scope = ErpScope(employee_id=mailbox.employee_id, email=mailbox.email,
                     contact_filter=policy.contacts.filter)
    return TypeContext(job=job, mailbox_gateway=mailbox_gateway,
                       rules=TypeRules.of(policy, record_type), container=container, scope=scope,
                       tally=tally, log=log, cursors=cursors, sent_container=sent,
                       push_removed=job.removals.of(record_type))


# ---------------------------------------------------------------- one type


async def sync_type(ctx: TypeContext, status: MailboxStatus,
                    progress: Callable[[str, int], None] | None = None) -> tuple[PassOutcome, PassOutcome]:
    await _honour_reset(ctx, status)
    await resolve_intents(ctx)
    first_read = ctx.cursors.get(names.mailbox_cursor(ctx.record_type)) is None
    if first_read:
        # A full mailbox read goes first: it adopts every stamped item, so the ERP pass needs no
        # per-record stamp look-up (one Graph request each) except for stamps it saw unlinked.
        mailbox_pass = await _mailbox_pass(ctx, progress)
        if mailbox_pass.complete and not mailbox_pass.failures and ctx.record_type is not RecordType.EMAIL:
            ctx.stamps_seen = ctx.listed_stamps
        erp_pass = await _erp_pass(ctx, progress)
    else:
        erp_pass = await _erp_pass(ctx, progress)
        mailbox_pass = await _mailbox_pass(ctx, progress)
    incomplete = await run_deletes(ctx)
    if ctx.routed_after_deletes and Side.ERP not in incomplete:
        await ctx.state.delete_routed(ctx.routed_after_deletes)  # their deletions ran
        ctx.routed_after_deletes = []
    ctx.routed_drained = ctx.routed_drained and not ctx.routed_after_deletes
    ctx.routed_after_deletes = []
    for outcome, name in ((erp_pass, names.erp_cursor(ctx.record_type)),
                          (mailbox_pass, names.mailbox_cursor(ctx.record_type))):
        if outcome.side in incomplete or outcome.failures:
            outcome.complete = False
        if outcome.complete and outcome.final_cursor is not None:
            _save_cursor(ctx, outcome, name)
    return erp_pass, mailbox_pass


def _save_cursor(ctx: TypeContext, outcome: PassOutcome, name: str) -> None:
    """A complete pass's final cursor. A delta round that saw nothing from the stored delta link
    keeps that link unless the book is written anyway: Graph hands out a new link with every
    round, even an empty one, and accepts an older link again (it lists the same changes); the
    daily ERP reconciliation mark writes the book, so a kept link is at most about a day older.
    A link Graph forgot meanwhile is a dead cursor: the full resync above."""
    assert outcome.final_cursor is not None
    stored = ctx.cursors.stored(name)
    if (outcome.side is Side.MAILBOX and outcome.items == 0 and outcome.start is not None
            and outcome.start == stored):
        ctx.cursors.refresh(name, outcome.final_cursor)
    else:
        ctx.cursors.put(name, outcome.final_cursor)


async def _honour_reset(ctx: TypeContext, status: MailboxStatus) -> None:
    """A status date that differs from the one the engine wrote was reset: re-read that side fully.

    The engine's own dates are kept in the status beside the admin-visible ones; a mailbox an
    earlier version synced has them as marks in its cursor book instead, read once and removed."""
    record_type = ctx.record_type
    for dates, own, mark, cursor in (
            (status.export_dates, status.engine_export_dates, names.export_mark, names.erp_cursor),
            (status.import_dates, status.engine_import_dates, names.import_mark, names.mailbox_cursor)):
        legacy = ctx.cursors.get(mark(record_type))
        if legacy is not None and record_type in own:  # the status carries its replacement now
            ctx.cursors.delete(mark(record_type))
        written = own.get(record_type) if record_type in own else _parse_mark(legacy)
        if written is None:
            continue
        if dates.get(record_type) != written:
            ctx.cursors.delete(cursor(record_type))
            ctx.log.add(LogLevel.INFORMATIONAL, f"{record_type} {mark(record_type)} date was reset: "
                        "re-reading that side fully", record_type)


def _parse_mark(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


async def _pages(view: SideView, cursor: str | None) -> AsyncGenerator[Page[Any], None]:
    """The pages of a listing; the next page is read while the caller works on this one (close the
    iterator, e.g. with ``contextlib.aclosing``, to drop a read that is no longer wanted)."""
    ahead = asyncio.ensure_future(view.list_page(cursor, True))
    try:
        while True:
            page = await ahead
            if not page.complete:
                ahead = asyncio.ensure_future(view.list_page(page.cursor, False))
            yield page
            if page.complete:
                return
    finally:
        if not ahead.done():
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, ExsyncError):
                await ahead


async def _listing(ctx: TypeContext, view: SideView, start: str | None,
                   progress: Callable[[str, int], None] | None) -> PassOutcome:
    """One pass over one side: every page paired, planned and run; after a full listing, the sweep
    (unless the type had no link when the listing began: then every link is one this listing
    just made from an item it saw, and there is nothing to find)."""
    outcome = PassOutcome(view.side, start)
    full = start is None
    linked_before = full and bool((await ctx.state.list_links(ctx.email, ctx.record_type, None, 1)).items)
    seen: set[str] | None = set() if linked_before else None
    async with contextlib.aclosing(_pages(view, start)) as pages:
        async for page in pages:
            entries, links = await view.read_page(page.items)
            if full and view.side is Side.MAILBOX:
                _remember_stamps(ctx, entries, links)
            seen = _remember_seen(seen, entries, ctx.page_size)
            pairs = [await view.pair(entry, links) for entry in entries]
            await _page(ctx, outcome, pairs, page.cursor, page.complete, view.cursor_name, full)
            _report(progress, ctx, outcome)
    if linked_before:
        await _reconcile(ctx, outcome, view, seen or set())
    return outcome


def _remember_seen(seen: set[str] | None, entries: Sequence[Any], page_size: int) -> set[str] | None:
    """The ids a full listing saw, while they fit in ``STAMP_MEMORY_PAGES`` pages (None above that,
    or when no sweep follows): the sweep asks only whether the links it did not see still exist."""
    if seen is None:
        return None
    seen.update(entry.id for entry in entries if not isinstance(entry, Removed))
    return seen if len(seen) <= STAMP_MEMORY_PAGES * page_size else None


async def _erp_pass(ctx: TypeContext, progress: Callable[[str, int], None] | None) -> PassOutcome:
    view = erp_view(ctx)
    stored = ctx.cursors.get(view.cursor_name)
    start = handover.start_of(stored, ctx.cursors.get(names.erp_feed_mark(ctx.record_type)), feed.FOLLOWS)
    if start is handover.Start.FOLLOWS and ctx.job.feed:
        outcome = await _routed_pass(ctx, progress)
        cursor: str | None = feed.FOLLOWS
    else:
        cursor = None if start in (handover.Start.FOLLOWS, handover.Start.FULL) else stored
        outcome = await _own_listing(ctx, view, start, cursor, progress)
    if cursor is None:
        await _mark_reconciled(ctx)
    elif await _erp_reconciliation_due(ctx):
        await _reconcile_erp_ids(ctx, outcome, view)
    return outcome


async def _own_listing(ctx: TypeContext, view: SideView, start: handover.Start, cursor: str | None,
                       progress: Callable[[str, int], None] | None) -> PassOutcome:
    """The mailbox lists the ERP itself; with the feed on, routed rows its listing supersedes are
    dropped first, and a complete listing hands over to the feed or marks that the next one may
    (:mod:`shared.sync.handover`)."""
    mark = names.erp_feed_mark(ctx.record_type)
    feed_exists = ctx.job.feed and await ctx.state.get_feed_cursor(ctx.record_type) is not None
    decision = handover.decide(start, ctx.job.feed, feed_exists)
    if decision.rows is handover.Rows.SUPERSEDE:
        await _drop_routed(ctx)
    outcome = await _listing(ctx, view, cursor, progress)
    if outcome.complete and not outcome.failures:
        if decision.completion is handover.Completion.FOLLOW:
            outcome.final_cursor = feed.FOLLOWS
            ctx.cursors.delete(mark)
        elif decision.completion is handover.Completion.MARK:
            ctx.cursors.put(mark, handover.mark_of(outcome.final_cursor))
    return outcome


async def _drop_routed(ctx: TypeContext) -> None:
    """Remove the type's routed changes as they stand (a row routed again since keeps its newer
    version): the own listing that begins now sees every change they name."""
    await feed.drop_routed(ctx.state, ctx.email, ctx.record_type, ROUTED_PEEK)


async def _routed_pass(ctx: TypeContext, progress: Callable[[str, int], None] | None) -> PassOutcome:
    """The ERP pass of a mailbox that follows the tenant feed: its routed changes page by page
    (the push removals with the first). A page's changes are removed once its links are written,
    except after a failure (all stay), for a deferred pair, or while deletions wait for the guard."""
    outcome = PassOutcome(Side.ERP, feed.FOLLOWS, final_cursor=feed.FOLLOWS)
    removed: tuple[str, ...] = ctx.push_removed
    if ctx.nothing_routed and not removed:
        outcome.complete = ctx.routed_drained = True
        return outcome
    after: str | None = None
    left = False  # a change stays routed (failed or deferred)
    while True:
        changes = await ctx.state.list_routed(ctx.email, ctx.record_type, ctx.page_size, after)
        entries, links = await routed_page(ctx, changes, removed)
        removed = ()
        pairs = [await pair_erp_entry(ctx, entry, links) for entry in entries]
        waiting = len(ctx.pending_deletes)
        failures = await execute_page(ctx, [plan(pair, ctx.rules) for pair in pairs], Side.ERP)
        outcome.failures += failures
        outcome.items += len(pairs)
        deferred = {entry.id for entry, pair in zip(entries, pairs, strict=True) if pair.deferred}
        done = [c for c in changes if c.erp_id not in deferred]
        left = left or bool(failures) or len(done) < len(changes)
        if failures:  # the whole page stays for the next run (what was recorded compares equal then)
            pass
        elif len(ctx.pending_deletes) > waiting:
            ctx.routed_after_deletes += done
        elif done:
            await ctx.state.delete_routed(done)
        _report(progress, ctx, outcome)
        if len(changes) < ctx.page_size:
            outcome.complete = True
            ctx.routed_drained = not left
            return outcome
        after = changes[-1].erp_id


async def _erp_reconciliation_due(ctx: TypeContext) -> bool:
    stored = ctx.cursors.get(names.erp_reconciled_mark(ctx.record_type))
    if stored is None:
        return True
    try:
        last = datetime.fromisoformat(stored)
    except ValueError:
        return True
    return ctx.clock.now() - last >= ERP_RECONCILE_INTERVAL


async def _reconcile_erp_ids(ctx: TypeContext, outcome: PassOutcome, view: SideView) -> None:
    """Check every link's ERP id against the ERP: the ERP's queries never show a deletion, and
    push notifications can be missed. A link whose record is gone or out of scope is checked one
    by one (deleted, or only out of scope), exactly as after a full listing."""
    failures = outcome.failures
    checked, missing = await _reconcile(ctx, outcome, view)
    if outcome.failures == failures:
        await _mark_reconciled(ctx)
    ctx.log.add(LogLevel.VERBOSE, f"{ctx.record_type} ERP ids reconciled ({checked} links checked, "
                f"{missing} not in scope)", ctx.record_type)


async def _mark_reconciled(ctx: TypeContext) -> None:
    ctx.cursors.put(names.erp_reconciled_mark(ctx.record_type), ctx.clock.now().isoformat())


async def _mailbox_pass(ctx: TypeContext, progress: Callable[[str, int], None] | None) -> PassOutcome:
    view = mailbox_view(ctx)
    start = ctx.cursors.get(view.cursor_name)
    try:
        return await _listing(ctx, view, start, progress)
    except SyncStateLost:
        if start is None:
            raise
        ctx.log.add(LogLevel.WARNING, f"{ctx.record_type} delta cursor expired: full resync of the mailbox "
                    "(re-links by stamp and content, creates nothing twice)", ctx.record_type)
        ctx.cursors.delete(view.cursor_name)
        return await _listing(ctx, view, None, progress)


def _remember_stamps(ctx: TypeContext, entries: list[Any], links: dict[str, Link]) -> None:
    """Keep the stamps of a full listing while they fit in ``STAMP_MEMORY_PAGES`` pages; above
    that, forget them (the ERP pass then looks every unlinked record's stamp up instead). A
    linked item's stamp is its link's ERP id."""
    if ctx.listed_stamps is None:
        return
    ctx.listed_stamps.update(e.stamp for e in entries if isinstance(e, MailboxItem) and e.stamp)
    ctx.listed_stamps.update(link.erp_id for link in links.values())
    if len(ctx.listed_stamps) > STAMP_MEMORY_PAGES * ctx.page_size:
        ctx.listed_stamps = None


async def _page(ctx: TypeContext, outcome: PassOutcome, pairs: list[Pair], cursor: str | None, complete: bool,
                name: str, full: bool) -> None:
    """Plan and run one page; save the cursor only while everything so far is recorded."""
    actions = [plan(pair, ctx.rules) for pair in pairs]
    outcome.failures += await execute_page(ctx, actions, outcome.side)
    outcome.items += len(pairs)
    outcome.complete = complete
    outcome.final_cursor = cursor
    own_deletes = any(o.source_pass is outcome.side for o in ctx.pending_deletes)
    if not complete and cursor is not None and not outcome.failures and not own_deletes and not full:
        ctx.cursors.put(name, cursor)
        await ctx.cursors.flush()  # progress a crash must not lose


async def _reconcile(ctx: TypeContext, outcome: PassOutcome, view: SideView,
                     seen: Collection[str] = frozenset()) -> tuple[int, int]:
    """Sweep the links page by page: a link whose item on the view's side no longer exists there (in
    the scope / the container) is paired as removed, which re-checks it with ``get`` (deleted, out of
    scope, or moved). The ids in ``seen`` (listed moments ago by the full listing before the sweep)
    exist and are not asked about. Holds one page of links at a time; returns (links checked, missing)."""
    cursor: str | None = None
    checked = gone = 0
    while True:
        page = await ctx.state.list_links(ctx.email, ctx.record_type, cursor, ctx.page_size)
        links = [link for link in page.items if isinstance(link, Link)]
        ids = [view.link_id(link) for link in links]
        unseen = [i for i in ids if i not in seen]
        existing = {i for i in ids if i in seen} | (await view.existing(unseen) if unseen else set())
        missing = [link for link in links if view.link_id(link) not in existing]
        checked, gone = checked + len(links), gone + len(missing)
        pairs = [await view.pair(view.removed(link), None) for link in missing]
        if pairs:
            actions = [plan(pair, ctx.rules) for pair in pairs]
            outcome.failures += await execute_page(ctx, actions, view.side)
        if page.complete or page.cursor is None:
            return checked, gone
        cursor = page.cursor


def _report(progress: Callable[[str, int], None] | None, ctx: TypeContext, outcome: PassOutcome) -> None:
    if progress is not None:
        progress(f"{ctx.record_type.value}.{outcome.side.value}", outcome.items)

