"""The hand-over between a type's own ERP listing and the tenant feed: the pure decision table.

A mailbox's ERP side is either listed by the mailbox itself (first run, reset, resync, the feed
off) or follows the tenant feed (:mod:`shared.sync.feed`). :func:`decide` says, from how the
type's ERP cursor stands as the run begins its ERP pass, what the pass does with the changes
routed to the mailbox and what a complete, failure-free own listing leaves behind.

Why routed rows can be superseded: while the watermark exists, every feed listing is routed to
every mailbox syncing the type, whatever its mode. A row routed *before* an own listing began
names a change that listing (or an earlier complete one, whose final cursor it starts from)
already sees: the plain engine's own listings are complete on their own. Consuming it after the
hand-over would process a change twice, and it is not harmless when the run dropped the link
meanwhile (the mailbox twin deleted in a one-way ERP -> mailbox sync: the ERP record is left
unlinked, and its stale routed row would create it in the mailbox again one run later). So a
*fresh* own listing drops the rows present as it begins. A row routed *after* it began may name
a change it misses, so it stays and is consumed once the type follows the feed. A listing that
resumes from a mid-listing cursor began in an earlier run: rows routed since then stay.

Fresh: a full listing (no cursor), or one starting from the final cursor of the previous
complete own listing; that listing's mark (``"<type>.erp.feed"``) holds a digest of it
(:func:`mark_of`). A mark an earlier version wrote (``"1"``) never matches: such a listing
keeps every row, as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
from enum import StrEnum


class Start(StrEnum):
    """How the type's ERP cursor stands as the ERP pass begins."""

    FOLLOWS = "follows"      # the cursor says the type follows the feed
    FULL = "full"            # no cursor: a full own listing
    FRESH = "fresh"          # the final cursor of a complete own listing made while the feed existed
    MARKED = "marked"        # a mark, but the cursor is not the one it names (a resumed listing)
    UNMARKED = "unmarked"    # an own cursor and no mark


class Rows(StrEnum):
    CONSUME = "consume"      # the routed pass reads and consumes them
    SUPERSEDE = "supersede"  # dropped before the own listing begins: it sees their changes
    KEEP = "keep"            # left for after the hand-over


class Completion(StrEnum):
    FOLLOW = "follow"        # the cursor becomes FOLLOWS, the mark goes
    MARK = "mark"            # the mark names this listing's final cursor: the next one hands over
    STAY = "stay"            # an own cursor, as without the feed


class Pass(StrEnum):
    ROUTED = "routed"        # the routed pass
    OWN = "own"              # an incremental own listing from the cursor
    OWN_FULL = "own_full"    # a full own listing


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    why: str
    pass_: Pass
    rows: Rows
    completion: Completion


def start_of(cursor: str | None, mark: str | None, follows: str) -> Start:
    """Classify the stored ERP cursor and feed mark of a type."""
    if cursor == follows:
        return Start.FOLLOWS
    if cursor is None:
        return Start.FULL
    if mark is None:
        return Start.UNMARKED
    return Start.FRESH if mark == mark_of(cursor) else Start.MARKED


def decide(start: Start, feed_on: bool, feed_exists: bool) -> Decision:
    """The table. ``feed_on``: the run uses the feed; ``feed_exists``: the tenant watermark of the
    type exists as the pass begins (read only for an own listing)."""
    if not feed_on:
        if start is Start.FOLLOWS:
            # the feed was switched off: list everything again (rows stay for when it returns)
            return Decision("feed off after following", Pass.OWN_FULL, Rows.KEEP, Completion.STAY)
        return Decision("feed off", Pass.OWN_FULL if start is Start.FULL else Pass.OWN, Rows.KEEP,
                        Completion.STAY)
    if start is Start.FOLLOWS:
        # the type follows the feed: its routed changes are its ERP pass
        return Decision("follows the feed", Pass.ROUTED, Rows.CONSUME, Completion.FOLLOW)
    if not feed_exists:
        # no watermark: nothing routes yet, and this listing began before the feed: no hand-over
        own = Pass.OWN_FULL if start is Start.FULL else Pass.OWN
        return Decision("no feed yet", own, Rows.KEEP, Completion.STAY)
    if start is Start.FULL:
        # a full listing sees every change routed before it began; it began with the feed there
        return Decision("full listing", Pass.OWN_FULL, Rows.SUPERSEDE, Completion.FOLLOW)
    if start is Start.FRESH:
        # starts where the last complete listing ended: it and that one see every earlier change
        return Decision("fresh incremental listing", Pass.OWN, Rows.SUPERSEDE, Completion.FOLLOW)
    if start is Start.MARKED:
        # resumed: began after the marked listing completed (the feed existed), but in an earlier
        # run, so rows routed since it began may name changes it passed
        return Decision("resumed after the mark", Pass.OWN, Rows.KEEP, Completion.FOLLOW)
    # an own cursor from before the feed: this listing may have begun before the watermark
    # existed (a resumed one); one more complete listing first
    return Decision("own cursor from before the feed", Pass.OWN, Rows.KEEP, Completion.MARK)


def mark_of(cursor: str | None) -> str:
    """The feed mark naming a complete own listing's final cursor (a digest: cursors are large)."""
    return "c:" + hashlib.sha256((cursor or "").encode()).hexdigest()[:24]
