"""The tenant ERP change feed as the application runs it: who gets changes, and when the feed is read.

The engine side is :mod:`shared.sync.feed` (listing, routing, recording) and the mailbox run's
routed pass. Here:

- :func:`subscribers`: every configured mailbox with its effective policy's record types and
  contact filter. Changes are routed to mailboxes whose sync is paused or whose server is inactive
  too (one row per record at most, the newest version): a mailbox that resumes then misses nothing.
- :func:`read` lists each wanted record type once, through one pooled ERP session.
- The schedule tick reads the feed once per cycle before it fans out (:mod:`shared.admin.schedule`);
  a run asked for by an admin or an ERP push reads it first (:func:`before_run`), so the change it
  was asked for is there; scheduled and Graph-notified runs only consume what the tick routed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from shared.admin.lookup import effective_policy
from shared.domain.records import RecordType
from shared.errors import ExsyncError
from shared.ports import ErpGateway, StateStore
from shared.runtime import Runtime
from shared.sync.feed import FOLLOWS, FeedRead, drop_routed, read_feed
from shared.sync.routing import Subscriber
from shared.sync.run import ROUTED_PEEK, enabled_types

logger = logging.getLogger(__name__)

READ_FIRST = frozenset({"manual", "erp"})
"""Run reasons that read the feed before the run: someone expects that change now."""


async def subscribers(state: StateStore) -> list[Subscriber]:
    """Every configured mailbox as routing sees it, from one read of the configuration (a mailbox
    whose policy is missing gets nothing: its runs fail visibly until the policy exists)."""
    config = await state.list_config()
    servers = {s.value.name: s.value for s in config.servers}
    policies = {p.value.name: p for p in config.policies}
    out: list[Subscriber] = []
    for stored in config.mailboxes:
        mailbox = stored.value
        server = servers.get(mailbox.server)
        if server is None:
            continue
        name = mailbox.policy_name(server)
        policy = effective_policy(policies.get(name), name)
        if policy is None:
            continue
        out.append(Subscriber(mailbox.email, mailbox.employee_id, frozenset(enabled_types(policy, None)),
                              policy.contacts.filter))
    return out


async def read(state: StateStore, erp: ErpGateway, wanted: Collection[RecordType] | None = None) -> list[FeedRead]:
    """Read the feed of every record type some mailbox syncs (and ``wanted`` names, when given)."""
    audience = await subscribers(state)
    types = [t for t in RecordType if any(t in s.types for s in audience) and (wanted is None or t in wanted)]
    watermarks = await state.list_feed_cursors() if types else {}
    return [await read_feed(erp, state, record_type, audience, watermarks=watermarks) for record_type in types]


async def before_run(rt: Runtime, erp: ErpGateway, reasons: Collection[str],
                     types: Collection[RecordType] | None) -> None:
    """Read the feed first when a reason of the run expects the ERP's latest changes."""
    if rt.settings.erp_feed and READ_FIRST & set(reasons):
        await read(rt.state, erp, types)


async def tick(rt: Runtime) -> dict[str, frozenset[RecordType]]:
    """The schedule tick's feed read: the mailboxes that got changes, with the record types."""
    if not rt.settings.erp_feed:
        return {}
    try:
        async with rt.erp_session() as erp:
            reads = await read(rt.state, erp)
    except ExsyncError as exc:  # the ERP is down or busy: the mailboxes still run (their mailbox side)
        logger.error("the ERP change feed could not be read this cycle (%s); read again next cycle",
                     type(exc).__name__)
        return {}
    got: dict[str, set[RecordType]] = {}
    for done in reads:
        for email in done.mailboxes:
            got.setdefault(email, set()).add(done.record_type)
    return {email: frozenset(types) for email, types in got.items()}


async def forget(state: StateStore, email: str) -> int:
    """A deleted mailbox gets no routed changes, and the ones waiting for it are dropped: should it be
    added again, each type that followed the feed lists the ERP in full first (then hands over again),
    so nothing changed meanwhile is missed. The number of routed rows dropped.

    A feed listing that read the configuration before the deletion may still route a few rows after
    it; a mailbox added again drops them in its hand-over (:mod:`shared.sync.handover`)."""
    book = await state.get_cursors(email)
    for name, value in sorted(book.values.items()):
        if value == FOLLOWS:
            await state.delete_cursor(email, name)
    dropped = 0
    for record_type in RecordType:
        dropped += await drop_routed(state, email, record_type, ROUTED_PEEK)
    if dropped:
        logger.info("deleted mailbox: %d routed ERP changes dropped", dropped)
    return dropped
