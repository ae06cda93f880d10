"""The pure planner: one pair (ERP item, mailbox item, link) and the type's rules -> one action.

No I/O here. :func:`plan` is a flat decision table; every branch is one :class:`Decision`
with a comment saying why. The executor (:mod:`shared.sync.execute`) turns an action into
conditional writes and link bookkeeping. ``docs/sync-rules.md`` states the same table for admins.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

from shared.domain.config import (
    ConflictResolution,
    ContactsPolicy,
    Direction,
    EmailsPolicy,
    EventsPolicy,
    SyncPolicy,
    TasksPolicy,
)
from shared.domain.records import EmailMessage, Event, Record, RecordType, Task, TaskStatus
from shared.ports import ErpItem, Link, MailboxItem, Side
from shared.sync import merge


@dataclasses.dataclass(frozen=True, slots=True)
class TypeRules:
    """What the policy says for one record type, flattened for the planner."""

    record_type: RecordType
    direction: Direction
    conflict: ConflictResolution
    category: str
    sync_without_category: bool
    deletes_propagate: bool
    folder_is_scope: bool = False
    """The policy names a separate folder, To Do list or calendar: every new item in it belongs to
    the sync, category or not (PRODUCT §1); in the default folder the category gates import."""

    @classmethod
    def of(cls, policy: SyncPolicy, record_type: RecordType) -> TypeRules:
        sections: dict[RecordType, ContactsPolicy | EmailsPolicy | TasksPolicy | EventsPolicy] = {
            RecordType.CONTACT: policy.contacts, RecordType.EMAIL: policy.emails,
            RecordType.TASK: policy.tasks, RecordType.EVENT: policy.events}
        section = sections[record_type]
        return cls(record_type=record_type, direction=Direction(section.direction),
                   conflict=ConflictResolution(policy.conflict_resolution), category=policy.category.name,
                   sync_without_category=getattr(section, "sync_without_category", True),
                   # e-mails are the record of a conversation: deleting one side never deletes the other
                   deletes_propagate=record_type is not RecordType.EMAIL,
                   folder_is_scope=getattr(section, "folder", None) is not None)


@dataclasses.dataclass(frozen=True, slots=True)
class Pair:
    """What the engine knows of one item: the link (if any) and both sides (None: absent/gone).

    ``erp_out_of_scope``: the ERP record exists but left the mailbox's scope (owner/workgroup).
    ``erp_read_only``: this mailbox must never write the ERP record (an event it only attends).
    ``blocked``: why the item must not be synced from this mailbox (its stamp or e-mail names an
    ERP record outside the scope or linked elsewhere; another synced mailbox organizes the event).
    ``deferred``: not in this run: a create from or of it has an unknown outcome until the intent
    is resolved at the start of the next run.
    ``other_unread``: the side that was not read because the listed side did not change.
    """

    record_type: RecordType
    link: Link | None
    erp: ErpItem[Any] | None
    mailbox: MailboxItem[Any] | None
    erp_out_of_scope: bool = False
    erp_read_only: bool = False
    blocked: str | None = None
    other_unread: Side | None = None
    deferred: bool = False


class Decision(StrEnum):
    """Every branch of the decision table (see :func:`plan`)."""

    NOTHING = "nothing"
    DEFER = "defer"
    UNCHANGED_SIDE = "unchanged_side"
    FORGET = "forget"
    UNLINK_OUT_OF_SCOPE = "unlink_out_of_scope"
    DELETE_MAILBOX = "delete_mailbox"
    CANCEL_MAILBOX = "cancel_mailbox"
    UNLINK_ERP_GONE = "unlink_erp_gone"
    RECREATE_ERP = "recreate_erp"
    DELETE_ERP = "delete_erp"
    UNLINK_MAILBOX_GONE = "unlink_mailbox_gone"
    RECREATE_MAILBOX = "recreate_mailbox"
    REFRESH = "refresh"
    SKIP_INELIGIBLE = "skip_ineligible"
    SKIP_DIRECTION = "skip_direction"
    PUSH_TO_MAILBOX = "push_to_mailbox"
    PUSH_TO_ERP = "push_to_erp"
    EQUAL_CONTENT = "equal_content"
    CONFLICT_SYSTEM = "conflict_system"
    CONFLICT_EXCHANGE = "conflict_exchange"
    CONFLICT_MERGE = "conflict_merge"
    CONFLICT_KEEP_BOTH = "conflict_keep_both"
    ADOPT = "adopt"
    CREATE_MAILBOX = "create_mailbox"
    CREATE_ERP = "create_erp"
    SKIP_BLOCKED = "skip_blocked"
    SKIP_NO_CATEGORY = "skip_no_category"


class LinkOp(StrEnum):
    KEEP = "keep"      # the link stays as it is
    SAVE = "save"      # (re)write the link from the outcome of the writes
    NOTE_VERSION = "note_version"  # only the listed side's version moved on
    DROP = "drop"      # delete the link, leave both items alone


class Target(StrEnum):
    NONE = "none"
    UPDATE = "update"
    CREATE = "create"
    DELETE = "delete"
    CANCEL = "cancel"


@dataclasses.dataclass(frozen=True, slots=True)
class Action:
    """What to do with one pair. ``to_mailbox``/``to_erp`` name the write on each side and
    ``mailbox_record``/``erp_record`` the content it writes."""

    decision: Decision
    pair: Pair
    to_mailbox: Target = Target.NONE
    to_erp: Target = Target.NONE
    mailbox_record: Record | None = None
    erp_record: Record | None = None
    link: LinkOp = LinkOp.KEEP
    conflict: bool = False
    both_changed_fields: int = 0

    @property
    def writes(self) -> bool:
        return self.to_mailbox is not Target.NONE or self.to_erp is not Target.NONE

    @property
    def deletes(self) -> bool:
        return Target.DELETE in (self.to_mailbox, self.to_erp) or self.to_mailbox is Target.CANCEL


# ---------------------------------------------------------------- eligibility


def erp_syncable(record: Record) -> bool:
    """ERP content that has a mailbox counterpart (PRODUCT §4: Draft/Rejected tasks do not)."""
    return not (isinstance(record, Task) and record.status is None)


def mailbox_syncable(record: Record) -> bool:
    """Mailbox content that has an ERP counterpart (deferred To Do tasks do not)."""
    return not (isinstance(record, Task) and record.status in (None, TaskStatus.DEFERRED))


def cancelled(record: Record) -> bool:
    return isinstance(record, Event) and record.cancelled


def has_category(item: MailboxItem[Any], rules: TypeRules) -> bool:
    """New mailbox items are imported only with the policy category, unless the policy says otherwise
    or they sit in a separate folder / list / calendar the policy names (the folder is the scope)."""
    if rules.record_type is RecordType.EMAIL or rules.sync_without_category or rules.folder_is_scope:
        return True
    wanted = rules.category.strip().lower()
    return any(c.strip().lower() == wanted for c in item.categories)


def _writes_erp(pair: Pair, rules: TypeRules) -> bool:
    return rules.direction.writes_erp and not pair.erp_read_only


def _writes_mailbox(rules: TypeRules) -> bool:
    return rules.direction.writes_mailbox


# ---------------------------------------------------------------- the table


def plan(pair: Pair, rules: TypeRules) -> Action:
    """The decision table. Linked pairs first, then unlinked items."""
    # An unfinished create of this run involves the item: leave it to the next run, which first
    # resolves the create's intent (the listing cursor stays, so the item is seen again).
    if pair.deferred:
        return Action(Decision.DEFER, pair)
    # The item must not be touched from this mailbox (see Pair.blocked).
    if pair.blocked:
        return Action(Decision.SKIP_BLOCKED, pair)
    if pair.link is not None:
        return _plan_linked(pair, pair.link, rules)
    return _plan_unlinked(pair, rules)


def _plan_linked(pair: Pair, link: Link, rules: TypeRules) -> Action:
    erp, mbx = pair.erp, pair.mailbox
    # The listed side did not change since the link (an echo of our own write, a bare version
    # bump): nothing to do, and the other side was not even read; its own listing reports its
    # changes. The link notes the new version.
    if pair.other_unread is not None:
        listed: ErpItem[Any] | MailboxItem[Any] | None = mbx if pair.other_unread is Side.ERP else erp
        version = listed.etag if isinstance(listed, MailboxItem) else listed.version if listed else None
        moved = version not in (None, link.mailbox_version if pair.other_unread is Side.ERP else link.erp_version)
        return Action(Decision.UNCHANGED_SIDE, pair, link=LinkOp.NOTE_VERSION if moved else LinkOp.KEEP)
    # The ERP record left the mailbox's scope (owner/workgroup change): unlink, never delete.
    if pair.erp_out_of_scope:
        return Action(Decision.UNLINK_OUT_OF_SCOPE, pair, link=LinkOp.DROP)
    # Both sides are gone: only the bookkeeping is left to remove.
    if erp is None and mbx is None:
        return Action(Decision.FORGET, pair, link=LinkOp.DROP)
    if erp is None:
        assert mbx is not None
        return _erp_gone(pair, mbx, link, rules)
    if mbx is None:
        return _mailbox_gone(pair, erp, link, rules)
    erp_changed = merge.erp_changed(erp, link)
    mbx_changed = merge.mailbox_changed(mbx, link)
    # Neither side changed its content (spurious version bumps, echoes of our own writes).
    if not erp_changed and not mbx_changed:
        stale = erp.version != link.erp_version or mbx.etag != link.mailbox_version
        return Action(Decision.REFRESH if stale else Decision.NOTHING, pair,
                      link=LinkOp.SAVE if stale else LinkOp.KEEP)
    # E-mails are immutable once linked: later edits (flags, processing state) are not synced.
    if rules.record_type is RecordType.EMAIL:
        return Action(Decision.REFRESH, pair, link=LinkOp.SAVE)
    # A cancelled ERP event removes the appointment (cancel as organizer, else delete).
    if erp_changed and cancelled(erp.record):
        if not _writes_mailbox(rules):
            return Action(Decision.SKIP_DIRECTION, pair)
        return Action(Decision.CANCEL_MAILBOX, pair, to_mailbox=Target.CANCEL, link=LinkOp.DROP)
    # Content without a counterpart on the other side (Draft/Rejected/deferred task): not synced.
    if not erp_syncable(erp.record) or not mailbox_syncable(mbx.record):
        return Action(Decision.SKIP_INELIGIBLE, pair)
    if erp_changed and not mbx_changed:
        return _one_side(pair, Decision.PUSH_TO_MAILBOX, erp.record, to_mailbox=_writes_mailbox(rules))
    if mbx_changed and not erp_changed:
        return _one_side(pair, Decision.PUSH_TO_ERP, mbx.record, to_mailbox=False,
                         allowed=_writes_erp(pair, rules))
    return _conflict(pair, erp, mbx, link.base, rules)


def _erp_gone(pair: Pair, mbx: MailboxItem[Any], link: Link, rules: TypeRules) -> Action:
    # ERP deleted, mailbox untouched since: delete the mailbox item (if deletes flow that way).
    if not merge.mailbox_changed(mbx, link):
        if rules.deletes_propagate and _writes_mailbox(rules):
            return Action(Decision.DELETE_MAILBOX, pair, to_mailbox=Target.DELETE, link=LinkOp.DROP)
        return Action(Decision.UNLINK_ERP_GONE, pair, link=LinkOp.DROP)
    # ERP deleted but the mailbox item was modified: the modified record wins, re-create it.
    if rules.deletes_propagate and _writes_erp(pair, rules) and mailbox_syncable(mbx.record):
        return Action(Decision.RECREATE_ERP, pair, to_erp=Target.CREATE, erp_record=mbx.record,
                      link=LinkOp.SAVE)
    # ... unless the ERP may not be written: keep the mailbox edit, forget the pair.
    return Action(Decision.UNLINK_ERP_GONE, pair, link=LinkOp.DROP)


def _mailbox_gone(pair: Pair, erp: ErpItem[Any], link: Link, rules: TypeRules) -> Action:
    # Mailbox item deleted, ERP untouched since: delete the ERP record (if deletes flow that way).
    if not merge.erp_changed(erp, link):
        if rules.deletes_propagate and _writes_erp(pair, rules):
            return Action(Decision.DELETE_ERP, pair, to_erp=Target.DELETE, link=LinkOp.DROP)
        return Action(Decision.UNLINK_MAILBOX_GONE, pair, link=LinkOp.DROP)
    # Mailbox item deleted but the ERP record was modified: the modified record wins, re-create it.
    if (rules.deletes_propagate and _writes_mailbox(rules) and erp_syncable(erp.record)
            and not cancelled(erp.record)):
        return Action(Decision.RECREATE_MAILBOX, pair, to_mailbox=Target.CREATE, mailbox_record=erp.record,
                      link=LinkOp.SAVE)
    return Action(Decision.UNLINK_MAILBOX_GONE, pair, link=LinkOp.DROP)


def _one_side(pair: Pair, decision: Decision, record: Record, *, to_mailbox: bool,
              allowed: bool = True) -> Action:
    # Only one side changed: copy it over, if the direction lets us write the other side.
    if decision is Decision.PUSH_TO_MAILBOX:
        if not to_mailbox:
            return Action(Decision.SKIP_DIRECTION, pair)
        return Action(decision, pair, to_mailbox=Target.UPDATE, mailbox_record=record, link=LinkOp.SAVE)
    if not allowed:
        return Action(Decision.SKIP_DIRECTION, pair)
    return Action(decision, pair, to_erp=Target.UPDATE, erp_record=record, link=LinkOp.SAVE)


def _conflict(pair: Pair, erp: ErpItem[Any], mbx: MailboxItem[Any], base: dict[str, Any],
              rules: TypeRules, *, adopting: bool = False) -> Action:
    decision_of_equal = Decision.ADOPT if adopting else Decision.EQUAL_CONTENT
    # Both changed to the same content: not a conflict, just record it.
    if merge.same_content(erp.record, mbx.record):
        return Action(decision_of_equal, pair, link=LinkOp.SAVE)
    writes_mailbox, writes_erp = _writes_mailbox(rules), _writes_erp(pair, rules)
    conflict = not adopting
    policy = rules.conflict
    if policy is ConflictResolution.KEEP_BOTH and adopting:
        policy = ConflictResolution.LAST_UPDATED   # one record found twice is not two records
    # A one-way direction: the side it flows from always wins.
    if not writes_erp or not writes_mailbox:
        policy = ConflictResolution.SYSTEM if writes_mailbox else ConflictResolution.EXCHANGE
        if not writes_mailbox and not writes_erp:
            return Action(Decision.SKIP_DIRECTION, pair)
    # last_updated: the side modified last wins (the ERP on a tie).
    if policy is ConflictResolution.LAST_UPDATED:
        policy = ConflictResolution.SYSTEM if merge.erp_is_newer(erp, mbx) else ConflictResolution.EXCHANGE
    # system: the ERP version overwrites the mailbox.
    if policy is ConflictResolution.SYSTEM:
        return Action(Decision.ADOPT if adopting else Decision.CONFLICT_SYSTEM, pair, to_mailbox=Target.UPDATE,
                      mailbox_record=erp.record, link=LinkOp.SAVE, conflict=conflict)
    # exchange: the mailbox version overwrites the ERP.
    if policy is ConflictResolution.EXCHANGE:
        return Action(Decision.ADOPT if adopting else Decision.CONFLICT_EXCHANGE, pair, to_erp=Target.UPDATE,
                      erp_record=mbx.record, link=LinkOp.SAVE, conflict=conflict)
    # keep_both: nothing overwritten; each version is copied to the other side as a new item.
    if policy is ConflictResolution.KEEP_BOTH:
        return Action(Decision.CONFLICT_KEEP_BOTH, pair, to_mailbox=Target.CREATE, to_erp=Target.CREATE,
                      mailbox_record=erp.record, erp_record=mbx.record, link=LinkOp.SAVE, conflict=True)
    # field_merge: per field against the base; fields changed on both sides take the newer one.
    merged, both = merge.field_merge(erp, mbx, base)
    return Action(Decision.CONFLICT_MERGE, pair,
                  to_mailbox=Target.NONE if merge.same_content(merged, mbx.record) else Target.UPDATE,
                  to_erp=Target.NONE if merge.same_content(merged, erp.record) else Target.UPDATE,
                  mailbox_record=merged, erp_record=merged, link=LinkOp.SAVE, conflict=True,
                  both_changed_fields=both)


def _plan_unlinked(pair: Pair, rules: TypeRules) -> Action:
    erp, mbx = pair.erp, pair.mailbox
    # Nothing on either side (a deletion of an item we never linked): nothing to do.
    if erp is None and mbx is None:
        return Action(Decision.NOTHING, pair)
    # Both sides hold the item but no link (found by stamp, message id or e-mail): link them,
    # reconciling content as a conflict against an empty base.
    if erp is not None and mbx is not None:
        if not erp_syncable(erp.record) or not mailbox_syncable(mbx.record):
            return Action(Decision.SKIP_INELIGIBLE, pair)
        return _conflict(pair, erp, mbx, {}, rules, adopting=True)
    if erp is not None:
        # A new ERP record without a counterpart status / a cancelled event: nothing to create.
        if not erp_syncable(erp.record) or cancelled(erp.record):
            return Action(Decision.SKIP_INELIGIBLE, pair)
        # The direction keeps the mailbox read-only.
        if not _writes_mailbox(rules):
            return Action(Decision.SKIP_DIRECTION, pair)
        # A new ERP record: create it in the mailbox (e-mail the ERP sent: sendMail).
        return Action(Decision.CREATE_MAILBOX, pair, to_mailbox=Target.CREATE, mailbox_record=erp.record,
                      link=LinkOp.SAVE)
    assert mbx is not None
    # A deferred task has no ERP status.
    if not mailbox_syncable(mbx.record):
        return Action(Decision.SKIP_INELIGIBLE, pair)
    # In the default folder only items carrying the policy category are imported (unless "sync
    # without category"); in a separate folder the folder is the scope.
    if not has_category(mbx, rules):
        return Action(Decision.SKIP_NO_CATEGORY, pair)
    # The direction keeps the ERP read-only.
    if not _writes_erp(pair, rules):
        return Action(Decision.SKIP_DIRECTION, pair)
    # A new mailbox item: create it in the ERP.
    return Action(Decision.CREATE_ERP, pair, to_erp=Target.CREATE, erp_record=mbx.record, link=LinkOp.SAVE)


def outgoing_email(record: Record) -> bool:
    """ERP mail the employee sent: it reaches the mailbox through sendMail (Sent Items)."""
    return isinstance(record, EmailMessage) and not record.incoming
