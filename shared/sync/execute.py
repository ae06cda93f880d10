"""The executor: runs planned actions through the ports, then records links.

Per page: the intent rows of every create of the page are written first (one transaction of at
most 100 rows), and only once they are durable does any write go out -- the ERP's, then the
mailbox's in batches of the server's update batch size, up to ``MAILBOX_BATCHES_IN_FLIGHT`` of
them at once (Graph's concurrency per mailbox is four requests); the links of the actions whose
writes all succeeded are recorded together (``put_links``), then their intents are deleted
together. A failed write is counted, logged and scoped to its item; the link stays as it was, so
the next run sees the change again. Deletions are not run here: they are queued
(:class:`DeleteOrder`) for the mass-deletion guard in :mod:`shared.sync.deletes`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from shared.domain.records import Contact, EmailMessage, Event, Record, RecordType
from shared.domain.status import LogLevel
from shared.errors import ExsyncError, NotFound
from shared.ports import (
    AttachmentContent,
    ErpItem,
    ErpWrite,
    Intent,
    Link,
    MailboxItem,
    MailboxWrite,
    Side,
    WriteKind,
    WriteResult,
)
from shared.sync import follow, merge
from shared.sync.context import TypeContext, describe
from shared.sync.hyperlink import keep_erp_web_page
from shared.sync.plan import Action, Decision, LinkOp, Target, outgoing_email

logger = logging.getLogger(__name__)

ORIGIN_PREFIX = "exsync:"
MAILBOX_BATCHES_IN_FLIGHT = 3
"""Mailbox write batches of one page sent at once (Graph allows four concurrent requests per
mailbox; one is left for the listing and the other passes)."""


@dataclasses.dataclass(frozen=True, slots=True)
class DeleteOrder:
    """A deletion waiting for the mass-deletion guard (ids and versions only, no contents)."""

    side: Side
    kind: WriteKind
    item_id: str
    version: str
    link: Link
    source_pass: Side


@dataclasses.dataclass(slots=True)
class _Job:
    """One action in flight: its writes, their results and its intents."""

    action: Action
    mailbox_write: MailboxWrite | None = None
    erp_write: ErpWrite | None = None
    mailbox_result: WriteResult[MailboxWrite] | None = None
    erp_result: WriteResult[ErpWrite] | None = None
    intents: list[Intent] = dataclasses.field(default_factory=list)

    def failed(self) -> ExsyncError | None:
        for result in (self.mailbox_result, self.erp_result):
            if result is not None and result.error is not None:
                return result.error
        return None


# ---------------------------------------------------------------- entry


async def execute_page(ctx: TypeContext, actions: Sequence[Action], source_pass: Side) -> int:
    """Run one page of actions; returns how many failed."""
    failures = 0
    jobs: list[_Job] = []
    for action in actions:
        if action.deletes:
            _queue_delete(ctx, action, source_pass)
        elif action.decision is Decision.CONFLICT_KEEP_BOTH:
            failures += await _keep_both(ctx, action)
        elif action.writes:
            jobs.append(_Job(action))
        else:
            failures += await _bookkeeping(ctx, action)
    if jobs:
        failures += await _run_jobs(ctx, jobs)
    return failures


def _queue_delete(ctx: TypeContext, action: Action, source_pass: Side) -> None:
    pair = action.pair
    assert pair.link is not None
    if action.to_erp is Target.DELETE:
        assert pair.erp is not None
        order = DeleteOrder(Side.ERP, WriteKind.DELETE, pair.erp.id, pair.erp.version, pair.link, source_pass)
    else:
        assert pair.mailbox is not None
        kind = WriteKind.DELETE
        if action.to_mailbox is Target.CANCEL and _organizes(ctx, pair.mailbox.record):
            kind = WriteKind.CANCEL
        order = DeleteOrder(Side.MAILBOX, kind, pair.mailbox.id, pair.mailbox.etag, pair.link, source_pass)
    if not any(o.side is order.side and o.item_id == order.item_id for o in ctx.pending_deletes):
        ctx.pending_deletes.append(order)


def _organizes(ctx: TypeContext, record: Record) -> bool:
    return isinstance(record, Event) and record.normalized().organizer in ("", ctx.email)


# ---------------------------------------------------------------- no writes


async def _bookkeeping(ctx: TypeContext, action: Action) -> int:
    """Actions without writes: refresh, adopt equal content, unlink, skip; a deferral returns 1
    (like a failure it keeps the listing cursor, without counting as one)."""
    pair = action.pair
    if action.decision is Decision.DEFER:
        return 1
    try:
        if action.link is LinkOp.DROP and pair.link is not None:
            if action.decision is Decision.UNLINK_OUT_OF_SCOPE:
                ctx.left_scope.add(pair.link.erp_id)
            await ctx.state.delete_link(pair.link)
            ctx.log.add(LogLevel.VERBOSE, f"unlinked {ctx.record_type} {pair.link.erp_id} ({action.decision})",
                        ctx.record_type)
        elif action.link is LinkOp.NOTE_VERSION and pair.link is not None:
            if pair.other_unread is Side.ERP and pair.mailbox is not None:
                await ctx.state.put_link(dataclasses.replace(pair.link, mailbox_version=pair.mailbox.etag))
            elif pair.erp is not None:
                await ctx.state.put_link(dataclasses.replace(pair.link, erp_version=pair.erp.version))
        elif action.link is LinkOp.SAVE:
            assert pair.erp is not None and pair.mailbox is not None
            agreed = pair.erp.record
            await save_link(ctx, pair.link, pair.erp, pair.mailbox, agreed)
    except ExsyncError as exc:
        _failed(ctx, action, Side.ERP, exc)
        return 1
    if action.decision.name.startswith("SKIP"):
        ctx.count(Side.MAILBOX if pair.mailbox is not None else Side.ERP, "skipped")
    return 0


# ---------------------------------------------------------------- links


async def save_link(ctx: TypeContext, old: Link | None, erp: ErpItem[Any], mbx: MailboxItem[Any],
                    agreed: Record, *, erp_version: str | None = None,
                    mailbox_version: str | None = None, erp_hash: str | None = None,
                    mailbox_hash: str | None = None) -> Link:
    """Record the pair as synced; replaces ``old`` (and any link holding either id)."""
    link = Link(mailbox=ctx.email, record_type=ctx.record_type, erp_id=erp.id, mailbox_id=mbx.id,
                erp_version=erp.version if erp_version is None else erp_version,
                mailbox_version=mbx.etag if mailbox_version is None else mailbox_version,
                erp_hash=erp_hash or erp.record.content_hash(),
                mailbox_hash=mailbox_hash or mbx.record.content_hash(),
                base=merge.base_of(agreed), synced_at=ctx.clock.now())
    return await ctx.state.put_link(await _replacing(ctx, link, old))


async def link_to_save(ctx: TypeContext, old: Link | None, erp: ErpItem[Any], mbx: MailboxItem[Any],
                       agreed: Record, *, created: bool) -> Link:
    """The link :func:`save_link` would write, for a batched ``put_links``.

    The run holds the mailbox lease, so the links its pairing read are current: a link whose
    ids did not change replaces ``old`` as read, and the pair of a create (one id is new, and
    pairing found no link for the other) has no link to replace. Anything else reads both ids
    first, as :func:`save_link` does."""
    link = _new_link(ctx, erp, mbx, agreed)
    if old is not None and (old.erp_id, old.mailbox_id) == (erp.id, mbx.id):
        return dataclasses.replace(link, etag=old.etag)
    if old is None and created:
        return link
    return await _replacing(ctx, link, old)


def _new_link(ctx: TypeContext, erp: ErpItem[Any], mbx: MailboxItem[Any], agreed: Record) -> Link:
    return Link(mailbox=ctx.email, record_type=ctx.record_type, erp_id=erp.id, mailbox_id=mbx.id,
                erp_version=erp.version, mailbox_version=mbx.etag, erp_hash=erp.record.content_hash(),
                mailbox_hash=mbx.record.content_hash(), base=merge.base_of(agreed), synced_at=ctx.clock.now())


async def _replacing(ctx: TypeContext, link: Link, old: Link | None) -> Link:
    """``link`` ready to replace whatever holds its ids (links holding them otherwise are deleted)."""
    state = ctx.state
    current = await state.get_link_by_erp(ctx.email, ctx.record_type, link.erp_id)
    holder = await state.get_link_by_mailbox(ctx.email, ctx.record_type, link.mailbox_id)
    if holder is not None and holder.erp_id != link.erp_id:
        await state.delete_link(holder)
    if old is not None and old.erp_id != link.erp_id:
        await state.delete_link(old)
    if current is not None:
        link = dataclasses.replace(link, etag=current.etag)
    return link


# ---------------------------------------------------------------- batches


async def _run_jobs(ctx: TypeContext, jobs: list[_Job]) -> int:
    """The writes of one page: intents first (durable before any create is sent), then the writes,
    then the links and the intents' removal -- one transaction each for the page."""
    failures = 0
    ready: list[_Job] = []
    for job in jobs:
        try:
            await _prepare(ctx, job)
        except ExsyncError as exc:
            _failed(ctx, job.action, _side_of(job.action), exc)
            _remember_unresolved(ctx, job.intents)
            failures += 1
            continue
        ready.append(job)
    ready, failed = await _store_intents(ctx, ready)
    failures += failed
    erp_jobs = [j for j in ready if j.erp_write is not None]
    if erp_jobs:
        results = await ctx.erp_gateway.apply([j.erp_write for j in erp_jobs if j.erp_write is not None])
        for job, erp_result in zip(erp_jobs, results, strict=True):
            job.erp_result = erp_result
    mailbox_jobs = [j for j in ready if j.mailbox_write is not None and j.failed() is None]
    if mailbox_jobs:
        await _apply_to_mailbox(ctx, mailbox_jobs)
    return failures + await _finish(ctx, ready)


async def _apply_to_mailbox(ctx: TypeContext, jobs: list[_Job]) -> None:
    """The mailbox writes in batches of the server's update batch size, a few batches at once."""
    in_flight = asyncio.Semaphore(MAILBOX_BATCHES_IN_FLIGHT)

    async def send(batch: list[_Job]) -> None:
        async with in_flight:
            writes = [j.mailbox_write for j in batch if j.mailbox_write is not None]
            results = await ctx.mailbox_gateway.apply(ctx.email, writes)
        for job, result in zip(batch, results, strict=True):
            job.mailbox_result = result

    await asyncio.gather(*(send(jobs[start:start + ctx.batch_size]) for start in range(0, len(jobs), ctx.batch_size)))


async def _store_intents(ctx: TypeContext, jobs: list[_Job]) -> tuple[list[_Job], int]:
    """The page's create intents in one write before any create; on an error no create runs."""
    intents = [intent for job in jobs for intent in job.intents]
    if not intents:
        return jobs, 0
    try:
        await _open_intents(ctx, intents)
        await ctx.state.put_intents(intents)
    except ExsyncError as exc:
        creating = [job for job in jobs if job.intents]
        for job in creating:
            _failed(ctx, job.action, _side_of(job.action), exc)
        return [job for job in jobs if not job.intents], len(creating)
    return jobs, 0


async def _open_intents(ctx: TypeContext, intents: Sequence[Intent]) -> None:
    """The cursor book says intents may be open before any is written (:mod:`shared.sync.intent_flag`)."""
    if ctx.intent_flag is not None:
        await ctx.intent_flag.opening(intents)


def _closed_intents(ctx: TypeContext, intents: Sequence[Intent]) -> None:
    if ctx.intent_flag is not None:
        ctx.intent_flag.closed(intents)


def _side_of(action: Action) -> Side:
    return Side.MAILBOX if action.to_mailbox is not Target.NONE else Side.ERP


async def _prepare(ctx: TypeContext, job: _Job) -> None:
    """Build the concrete writes of an action; creates get their intent row first."""
    action, pair = job.action, job.action.pair
    if action.to_erp is not Target.NONE:
        assert action.erp_record is not None
        if action.to_erp is Target.CREATE:
            source = pair.mailbox
            assert source is not None
            intent = await _intent(ctx, Side.ERP, source.id, f"{ORIGIN_PREFIX}{uuid.uuid4().hex}")
            job.intents.append(intent)
            job.erp_write = await erp_create(ctx, action.erp_record, source, intent.stamp)
        else:
            assert pair.erp is not None
            record = action.erp_record
            if ctx.policy.contacts.hyperlink:
                record = keep_erp_web_page(record, pair.erp.record)
            job.erp_write = ErpWrite(WriteKind.UPDATE, ctx.record_type, record=record,
                                     item_id=pair.erp.id, version=pair.erp.version)
    if action.to_mailbox is not Target.NONE:
        assert action.mailbox_record is not None
        if action.to_mailbox is Target.CREATE:
            assert pair.erp is not None
            intent = await _intent(ctx, Side.MAILBOX, pair.erp.id, pair.erp.id)
            job.intents.append(intent)
            job.mailbox_write = await mailbox_create(ctx, action.mailbox_record, pair.erp)
        else:
            assert pair.mailbox is not None and pair.erp is not None
            job.mailbox_write = MailboxWrite(
                WriteKind.UPDATE, ctx.record_type, ctx.container,
                record=mailbox_view(ctx, action.mailbox_record), item_id=pair.mailbox.id,
                etag=pair.mailbox.etag, web_page=web_page(ctx, pair.erp.id),
                known_stamp=pair.link.erp_id if pair.link is not None else None)


def _remember_unresolved(ctx: TypeContext, intents: Sequence[Intent]) -> None:
    """Creates whose outcome is unknown: the intent stays for the next run, and no second create
    of the same source is tried in this run (it would duplicate the item)."""
    ctx.unresolved.update((intent.target, intent.source_id) for intent in intents)
    ctx.unresolved_stamps.update(intent.stamp for intent in intents if intent.target is Side.ERP)


class CreatePending(ExsyncError):
    """An earlier create of this item has an unknown outcome; it is resolved next run."""


async def _intent(ctx: TypeContext, target: Side, source_id: str, stamp: str) -> Intent:
    if (target, source_id) in ctx.unresolved:
        raise CreatePending(f"an earlier create from {source_id} is unresolved; resolved next run")
    return Intent(mailbox=ctx.email, record_type=ctx.record_type, intent_id=ctx.next_id(),
                  target=target, source_id=source_id, stamp=stamp, created_at=ctx.clock.now())


async def _finish(ctx: TypeContext, jobs: list[_Job]) -> int:
    """Record the outcomes of a page: the links of the actions that succeeded in one write (and
    their intents deleted in another), a counted failure for the others."""
    failures = 0
    done: list[tuple[_Job, Link]] = []
    for job in jobs:
        action, pair = job.action, job.action.pair
        error = job.failed()
        if error is not None:
            _failed(ctx, action, Side.ERP if job.erp_result and job.erp_result.error else Side.MAILBOX, error)
            _remember_unresolved(ctx, job.intents)
            failures += 1
            continue
        try:
            erp = _erp_after(job)
            mbx = await _mailbox_after(ctx, job)
            if mbx is None:   # sendMail accepted, not yet in Sent Items: the intent resolves it next run
                _remember_unresolved(ctx, job.intents)
                _count_writes(ctx, action)
                continue
            agreed = action.erp_record if action.to_erp is not Target.NONE else action.mailbox_record
            done.append((job, await link_to_save(ctx, pair.link, erp, mbx, agreed or erp.record,
                                                 created=bool(job.intents))))
        except ExsyncError as exc:
            _failed(ctx, action, _side_of(action), exc)
            _remember_unresolved(ctx, job.intents)
            failures += 1
    if not done:
        return failures
    try:
        await ctx.state.put_links([link for _, link in done])
        intents = [intent for job, _ in done for intent in job.intents]
        if intents:
            await ctx.state.delete_intents(intents)
            _closed_intents(ctx, intents)
    except ExsyncError as exc:
        for job, _ in done:
            _failed(ctx, job.action, _side_of(job.action), exc)
            _remember_unresolved(ctx, job.intents)
        return failures + len(done)
    for job, _ in done:
        _count_writes(ctx, job.action)
    return failures


def _erp_after(job: _Job) -> ErpItem[Any]:
    if job.erp_result is not None:
        item = job.erp_result.item
        assert isinstance(item, ErpItem)
        return item
    assert job.action.pair.erp is not None
    return job.action.pair.erp


async def _mailbox_after(ctx: TypeContext, job: _Job) -> MailboxItem[Any] | None:
    if job.mailbox_result is None:
        assert job.action.pair.mailbox is not None
        return job.action.pair.mailbox
    item = job.mailbox_result.item
    if item is None and job.mailbox_write is not None and job.mailbox_write.kind is WriteKind.SEND:
        assert ctx.sent_container is not None and job.mailbox_write.stamp is not None
        return await ctx.mailbox_gateway.find_by_stamp(ctx.email, ctx.record_type, ctx.sent_container,
                                                       job.mailbox_write.stamp)
    assert isinstance(item, MailboxItem)
    return item


def _count_writes(ctx: TypeContext, action: Action) -> None:
    for side, target in ((Side.MAILBOX, action.to_mailbox), (Side.ERP, action.to_erp)):
        if target is Target.CREATE:
            ctx.count(side, "created")
        elif target is Target.UPDATE:
            ctx.count(side, "updated")
    if action.conflict:
        ctx.count(Side.MAILBOX if action.to_mailbox is not Target.NONE else Side.ERP, "conflicts")
    ctx.log.add(LogLevel.VERBOSE, f"{action.decision} {ctx.record_type} "
                f"erp:{action.pair.erp.id if action.pair.erp else '-'} "
                f"mailbox:{action.pair.mailbox.id if action.pair.mailbox else '-'}", ctx.record_type)


def _failed(ctx: TypeContext, action: Action, side: Side, error: Exception) -> None:
    ctx.count(side, "failed")
    pair = action.pair
    ctx.log.add(LogLevel.ERROR, f"{action.decision} of {ctx.record_type} "
                f"(erp:{pair.erp.id if pair.erp else '-'} mailbox:{pair.mailbox.id if pair.mailbox else '-'}) "
                f"failed: {describe(error)}; retried next run", ctx.record_type)


# ---------------------------------------------------------------- writes per record type


def web_page(ctx: TypeContext, erp_id: str) -> str | None:
    """The contact's business home page: the policy's link template + the ERP id."""
    template = ctx.policy.contacts.hyperlink
    if ctx.record_type is not RecordType.CONTACT or not template:
        return None
    return f"{template.rstrip('/')}/{erp_id}"


def mailbox_view(ctx: TypeContext, record: Record) -> Record:
    """The record as this mailbox holds it: an event it only attends carries no attendee list
    (creating one with attendees would send invitations in the attendee's name)."""
    if isinstance(record, Event):
        organizer = record.normalized().organizer
        if organizer and organizer != ctx.email:
            return dataclasses.replace(record, attendees=())
    return record


async def mailbox_create(ctx: TypeContext, record: Record, erp: ErpItem[Any]) -> MailboxWrite:
    files: tuple[AttachmentContent, ...] = ()
    if isinstance(record, EmailMessage):
        files, record = await _erp_files(ctx, record, erp.id)
    kind = WriteKind.SEND if outgoing_email(record) else WriteKind.CREATE
    return MailboxWrite(kind, ctx.record_type, ctx.container, record=mailbox_view(ctx, record),
                        stamp=erp.id, categories=(ctx.policy.category.name,), files=files,
                        web_page=web_page(ctx, erp.id))


async def _erp_files(ctx: TypeContext, record: EmailMessage,
                     erp_id: str) -> tuple[tuple[AttachmentContent, ...], EmailMessage]:
    if not ctx.policy.emails.sync_attachments:
        return (), dataclasses.replace(record, attachments=())
    # listings may carry no attachment metadata: always ask (creates only, so at most once per mail)
    files = await ctx.erp_gateway.read_attachments(ctx.record_type, erp_id, ctx.max_attachment_bytes)
    return files, _keep_attachments(ctx, record, files, f"erp:{erp_id}")


def _keep_attachments(ctx: TypeContext, record: EmailMessage, files: tuple[AttachmentContent, ...],
                      where: str) -> EmailMessage:
    """The record with only the attachments that travel; the skipped ones are logged (when the
    listing told their names: a gateway that lists no attachment metadata skips silently)."""
    names = {f.meta.name for f in files}
    skipped = [a for a in record.attachments if a.name not in names]
    if skipped:
        ctx.log.add(LogLevel.INFORMATIONAL, f"{len(skipped)} attachment(s) of e-mail {where} over the "
                    f"{ctx.server.max_attachment_kb} KB limit skipped", ctx.record_type)
        ctx.count(Side.MAILBOX if where.startswith("erp") else Side.ERP, "skipped", len(skipped))
    return dataclasses.replace(record, attachments=tuple(a for a in record.attachments if a.name in names))


async def erp_create(ctx: TypeContext, record: Record, source: MailboxItem[Any], origin: str) -> ErpWrite:
    owner: str | None = ctx.mailbox.employee_id
    contact_class: str | None = None
    related: tuple[str, ...] = ()
    followed: tuple[str, str] | None = None
    files: tuple[AttachmentContent, ...] = ()
    if isinstance(record, Contact):
        contact_class = ctx.policy.contacts.contact_class
    elif isinstance(record, EmailMessage):
        related = await related_contacts(ctx, record)
        followed = await follow.filed_record(ctx.state, ctx.email, source)  # a filed conversation's reply
        if ctx.policy.emails.sync_attachments:
            files = await ctx.mailbox_gateway.read_attachments(ctx.email, source.id, ctx.max_attachment_bytes)
            record = _keep_attachments(ctx, record, files, f"mailbox:{source.id}")
        elif record.attachments:
            record = dataclasses.replace(record, attachments=())
    elif isinstance(record, Event):
        owner = None
    return ErpWrite(WriteKind.CREATE, ctx.record_type, record=record, owner=owner, contact_class=contact_class,
                    related_contacts=related, origin=origin, files=files, related_record=followed)


async def related_contacts(ctx: TypeContext, record: EmailMessage) -> tuple[str, ...]:
    """ERP contact ids of the sender/recipients; unknown addresses become contacts if the policy says so."""
    ids: list[str] = []
    for address in record.addresses():
        if address == ctx.email:
            continue
        found = await ctx.erp_gateway.find_contact_by_email(address)
        if found is None and ctx.policy.emails.create_unknown_contacts:
            found = await _create_contact(ctx, address)
        if found is not None and found.id not in ids:
            ids.append(found.id)
    return tuple(ids)


async def _create_contact(ctx: TypeContext, address: str) -> ErpItem[Any] | None:
    """A contact for an unknown address (idempotent: it is found by its address next time)."""
    contact = Contact(email=address, display_name=address.split("@", 1)[0])
    [result] = await ctx.erp_gateway.apply([ErpWrite(
        WriteKind.CREATE, RecordType.CONTACT, record=contact, owner=ctx.mailbox.employee_id,
        contact_class=ctx.policy.contacts.contact_class, origin=f"{ORIGIN_PREFIX}address:{address}")])
    if result.error is not None:
        raise result.error
    ctx.tally.add(RecordType.CONTACT, Side.ERP, "created")
    ctx.log.add(LogLevel.INFORMATIONAL, "created an ERP contact for an unknown e-mail address", ctx.record_type)
    item = result.item
    return item if isinstance(item, ErpItem) else None


# ---------------------------------------------------------------- keep both


async def _keep_both(ctx: TypeContext, action: Action) -> int:
    """Both versions survive on both sides: the ERP version becomes a new mailbox item and the
    mailbox version a new ERP record. The mailbox item loses its stamp first (it no longer
    stands for the old ERP record), then the old link goes, then the two copies are created."""
    pair = action.pair
    erp, mbx, link = pair.erp, pair.mailbox, pair.link
    assert erp is not None and mbx is not None and link is not None
    assert action.erp_record is not None and action.mailbox_record is not None
    intents: list[Intent] = []
    try:
        copy_to_erp = _Job(dataclasses.replace(action, to_mailbox=Target.NONE, link=LinkOp.SAVE))
        copy_to_mailbox = _Job(dataclasses.replace(action, to_erp=Target.NONE, link=LinkOp.SAVE))
        origin = f"{ORIGIN_PREFIX}{uuid.uuid4().hex}"
        erp_intent = await _intent(ctx, Side.ERP, mbx.id, origin)
        intents.append(erp_intent)
        mailbox_intent = await _intent(ctx, Side.MAILBOX, erp.id, erp.id)
        intents.append(mailbox_intent)
        await _open_intents(ctx, intents)
        await ctx.state.put_intents(intents)
        if mbx.stamp or not mbx.stamp_known:
            [cleared] = await ctx.mailbox_gateway.apply(ctx.email, [MailboxWrite(
                WriteKind.UPDATE, ctx.record_type, ctx.container, item_id=mbx.id, etag=mbx.etag, stamp="")])
            if cleared.error is not None:
                raise cleared.error
            assert isinstance(cleared.item, MailboxItem)
            mbx = cleared.item
        await ctx.state.delete_link(link)
        copy_to_erp.erp_write = await erp_create(ctx, action.erp_record, mbx, origin)
        [copy_to_erp.erp_result] = await ctx.erp_gateway.apply([copy_to_erp.erp_write])
        copy_to_mailbox.mailbox_write = await mailbox_create(ctx, action.mailbox_record, erp)
        [copy_to_mailbox.mailbox_result] = await ctx.mailbox_gateway.apply(ctx.email,
                                                                            [copy_to_mailbox.mailbox_write])
        for job, intent in ((copy_to_erp, erp_intent), (copy_to_mailbox, mailbox_intent)):
            error = job.failed()
            if error is not None:
                raise error
            new_erp = _erp_after(job) if job.erp_result else erp
            new_mbx = await _mailbox_after(ctx, job) if job.mailbox_result else mbx
            if new_mbx is None:
                continue
            await save_link(ctx, None, new_erp, new_mbx, new_erp.record if job.erp_result else erp.record)
            await ctx.state.delete_intent(intent)
            _closed_intents(ctx, [intent])
    except ExsyncError as exc:
        _failed(ctx, action, Side.MAILBOX, exc)
        _remember_unresolved(ctx, intents)
        return 1
    ctx.count(Side.MAILBOX, "created")
    ctx.count(Side.ERP, "created")
    ctx.count(Side.MAILBOX, "conflicts")
    return 0


def is_missing(error: ExsyncError | None) -> bool:
    return isinstance(error, NotFound)
