"""Table-driven tests of the pure planner: every branch of the decision table, every policy option."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.config import ConflictResolution, Direction, SyncPolicy
from shared.domain.records import Contact, EmailMessage, Event, Record, RecordType, Task, TaskStatus
from shared.ports import ErpItem, Link, MailboxItem, Side
from shared.sync import merge
from shared.sync.plan import Action, Decision, LinkOp, Pair, Target, TypeRules, plan

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BASE = Contact(first_name="Ann", last_name="Lee", job_title="CEO", email="ann@x.com")


def erp(record: Record, version: str = "v1", at: int = 0, **kw: Any) -> ErpItem[Any]:
    return ErpItem(id="E1", version=version, modified_at=T0 + timedelta(seconds=at), record=record, **kw)


def mbx(record: Record, etag: str = "e1", at: int = 0, **kw: Any) -> MailboxItem[Any]:
    return MailboxItem(id="M1", etag=etag, modified_at=T0 + timedelta(seconds=at), record=record, **kw)


def link(record: Record = BASE) -> Link:
    return Link(mailbox="ann@contoso.com", record_type=record.KIND, erp_id="E1", mailbox_id="M1",
                erp_version="v1", mailbox_version="e1", erp_hash=record.content_hash(),
                mailbox_hash=record.content_hash(), base=merge.base_of(record))


def rules(record_type: RecordType = RecordType.CONTACT, *, direction: Direction = Direction.BIDIRECTIONAL,
          conflict: ConflictResolution = ConflictResolution.LAST_UPDATED,
          without_category: bool = False) -> TypeRules:
    return dataclasses.replace(TypeRules.of(SyncPolicy(name="p"), record_type), direction=direction,
                               conflict=conflict, sync_without_category=without_category)


E_EDIT = BASE.with_fields({"job_title": "CTO"})
M_EDIT = BASE.with_fields({"last_name": "Lee-Smith"})
M_EDIT_SAME_FIELD = BASE.with_fields({"job_title": "CFO"})
TAGGED = ("ERP",)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    pair: Pair
    rules: TypeRules
    decision: Decision
    to_mailbox: Target = Target.NONE
    to_erp: Target = Target.NONE
    link: LinkOp | None = None
    check: Callable[[Action], bool] | None = None


def linked(e: ErpItem[Any] | None, m: MailboxItem[Any] | None, base: Record = BASE, **kw: Any) -> Pair:
    return Pair(base.KIND, link(base), e, m, **kw)


def unlinked(e: ErpItem[Any] | None, m: MailboxItem[Any] | None, **kw: Any) -> Pair:
    kind = (e or m).record.KIND if (e or m) is not None else RecordType.CONTACT  # type: ignore[union-attr]
    return Pair(kind, None, e, m, **kw)


CANCELLED = Event(subject="s", organizer="ann@contoso.com", cancelled=True)
LIVE_EVENT = Event(subject="s", organizer="ann@contoso.com")
DRAFT_TASK = Task(title="t", status=None)
OPEN_TASK = Task(title="t")
MAIL = EmailMessage(subject="hi", from_address="bob@x.com", to=("ann@contoso.com",))

CASES = [
    # ---- linked pairs
    Case("left scope unlinks", linked(erp(BASE), mbx(BASE), erp_out_of_scope=True), rules(),
         Decision.UNLINK_OUT_OF_SCOPE, link=LinkOp.DROP),
    Case("both gone", linked(None, None), rules(), Decision.FORGET, link=LinkOp.DROP),
    Case("erp deleted, mailbox untouched -> delete", linked(None, mbx(BASE)), rules(),
         Decision.DELETE_MAILBOX, to_mailbox=Target.DELETE, link=LinkOp.DROP),
    Case("erp deleted, mailbox read-only direction -> unlink", linked(None, mbx(BASE)),
         rules(direction=Direction.EXCHANGE_TO_SYSTEM), Decision.UNLINK_ERP_GONE, link=LinkOp.DROP),
    Case("erp e-mail deleted -> unlink only", linked(None, mbx(MAIL), MAIL), rules(RecordType.EMAIL),
         Decision.UNLINK_ERP_GONE, link=LinkOp.DROP),
    Case("erp deleted, mailbox modified -> re-create in erp", linked(None, mbx(M_EDIT, "e2")), rules(),
         Decision.RECREATE_ERP, to_erp=Target.CREATE, link=LinkOp.SAVE),
    Case("erp deleted, mailbox modified, erp read-only -> unlink, keep edit", linked(None, mbx(M_EDIT, "e2")),
         rules(direction=Direction.SYSTEM_TO_EXCHANGE), Decision.UNLINK_ERP_GONE, link=LinkOp.DROP),
    Case("mailbox deleted, erp untouched -> delete", linked(erp(BASE), None), rules(),
         Decision.DELETE_ERP, to_erp=Target.DELETE, link=LinkOp.DROP),
    Case("mailbox deleted, erp read-only -> unlink", linked(erp(BASE), None),
         rules(direction=Direction.SYSTEM_TO_EXCHANGE), Decision.UNLINK_MAILBOX_GONE, link=LinkOp.DROP),
    Case("mailbox deleted of an attended event -> unlink", linked(erp(LIVE_EVENT), None, LIVE_EVENT,
                                                                  erp_read_only=True),
         rules(RecordType.EVENT), Decision.UNLINK_MAILBOX_GONE, link=LinkOp.DROP),
    Case("mailbox deleted, erp modified -> re-create in mailbox", linked(erp(E_EDIT, "v2"), None), rules(),
         Decision.RECREATE_MAILBOX, to_mailbox=Target.CREATE, link=LinkOp.SAVE),
    Case("mailbox deleted, erp modified, mailbox read-only -> unlink", linked(erp(E_EDIT, "v2"), None),
         rules(direction=Direction.EXCHANGE_TO_SYSTEM), Decision.UNLINK_MAILBOX_GONE, link=LinkOp.DROP),
    Case("nothing changed", linked(erp(BASE), mbx(BASE)), rules(), Decision.NOTHING, link=LinkOp.KEEP),
    Case("listed mailbox side unchanged, version moved (echo) -> note it, other side unread",
         linked(None, mbx(BASE, "e7"), other_unread=Side.ERP), rules(), Decision.UNCHANGED_SIDE,
         link=LinkOp.NOTE_VERSION),
    Case("listed erp side unchanged -> nothing, other side unread",
         linked(erp(BASE), None, other_unread=Side.MAILBOX), rules(), Decision.UNCHANGED_SIDE, link=LinkOp.KEEP),
    Case("spurious version bumps -> refresh link only", linked(erp(BASE, "v9"), mbx(BASE, "e9")), rules(),
         Decision.REFRESH, link=LinkOp.SAVE),
    Case("content changed, version not -> no change", linked(erp(E_EDIT, "v1"), mbx(BASE)), rules(),
         Decision.NOTHING),
    Case("e-mail edited after link -> refresh only", linked(erp(MAIL.with_fields({"subject": "x"}), "v2"),
                                                            mbx(MAIL), MAIL),
         rules(RecordType.EMAIL), Decision.REFRESH, link=LinkOp.SAVE),
    Case("erp event cancelled -> cancel appointment", linked(erp(CANCELLED, "v2"), mbx(LIVE_EVENT), LIVE_EVENT),
         rules(RecordType.EVENT), Decision.CANCEL_MAILBOX, to_mailbox=Target.CANCEL, link=LinkOp.DROP),
    Case("erp event cancelled, mailbox read-only -> skip",
         linked(erp(CANCELLED, "v2"), mbx(LIVE_EVENT), LIVE_EVENT),
         rules(RecordType.EVENT, direction=Direction.EXCHANGE_TO_SYSTEM), Decision.SKIP_DIRECTION),
    Case("erp task to Draft (no To Do status) -> skip", linked(erp(DRAFT_TASK, "v2"), mbx(OPEN_TASK), OPEN_TASK),
         rules(RecordType.TASK), Decision.SKIP_INELIGIBLE),
    Case("mailbox task deferred -> skip",
         linked(erp(OPEN_TASK), mbx(Task(title="t", status=TaskStatus.DEFERRED), "e2"), OPEN_TASK),
         rules(RecordType.TASK), Decision.SKIP_INELIGIBLE),
    Case("erp changed -> update mailbox", linked(erp(E_EDIT, "v2"), mbx(BASE)), rules(),
         Decision.PUSH_TO_MAILBOX, to_mailbox=Target.UPDATE, link=LinkOp.SAVE),
    Case("erp changed, mailbox read-only direction -> skip", linked(erp(E_EDIT, "v2"), mbx(BASE)),
         rules(direction=Direction.EXCHANGE_TO_SYSTEM), Decision.SKIP_DIRECTION),
    Case("mailbox changed -> update erp", linked(erp(BASE), mbx(M_EDIT, "e2")), rules(),
         Decision.PUSH_TO_ERP, to_erp=Target.UPDATE, link=LinkOp.SAVE),
    Case("mailbox changed, erp read-only direction -> skip", linked(erp(BASE), mbx(M_EDIT, "e2")),
         rules(direction=Direction.SYSTEM_TO_EXCHANGE), Decision.SKIP_DIRECTION),
    Case("attendee's copy changed -> never written to the erp",
         linked(erp(LIVE_EVENT), mbx(LIVE_EVENT.with_fields({"subject": "x"}), "e2"), LIVE_EVENT,
                erp_read_only=True), rules(RecordType.EVENT), Decision.SKIP_DIRECTION),
    Case("both changed to equal content -> no conflict", linked(erp(E_EDIT, "v2"), mbx(E_EDIT, "e2")), rules(),
         Decision.EQUAL_CONTENT, link=LinkOp.SAVE, check=lambda a: not a.conflict),
    Case("conflict, system", linked(erp(E_EDIT, "v2"), mbx(M_EDIT, "e2")),
         rules(conflict=ConflictResolution.SYSTEM), Decision.CONFLICT_SYSTEM, to_mailbox=Target.UPDATE,
         check=lambda a: a.conflict and a.mailbox_record == E_EDIT),
    Case("conflict, exchange", linked(erp(E_EDIT, "v2"), mbx(M_EDIT, "e2")),
         rules(conflict=ConflictResolution.EXCHANGE), Decision.CONFLICT_EXCHANGE, to_erp=Target.UPDATE,
         check=lambda a: a.erp_record == M_EDIT),
    Case("conflict, last_updated, erp newer", linked(erp(E_EDIT, "v2", at=5), mbx(M_EDIT, "e2", at=3)),
         rules(), Decision.CONFLICT_SYSTEM, to_mailbox=Target.UPDATE),
    Case("conflict, last_updated, mailbox newer", linked(erp(E_EDIT, "v2", at=3), mbx(M_EDIT, "e2", at=5)),
         rules(), Decision.CONFLICT_EXCHANGE, to_erp=Target.UPDATE),
    Case("conflict, last_updated, tie -> erp", linked(erp(E_EDIT, "v2", at=3), mbx(M_EDIT, "e2", at=3)),
         rules(), Decision.CONFLICT_SYSTEM, to_mailbox=Target.UPDATE),
    Case("conflict, keep_both", linked(erp(E_EDIT, "v2"), mbx(M_EDIT, "e2")),
         rules(conflict=ConflictResolution.KEEP_BOTH), Decision.CONFLICT_KEEP_BOTH, to_mailbox=Target.CREATE,
         to_erp=Target.CREATE, check=lambda a: a.mailbox_record == E_EDIT and a.erp_record == M_EDIT),
    Case("conflict, field_merge of different fields -> both kept, both sides updated",
         linked(erp(E_EDIT, "v2"), mbx(M_EDIT, "e2")), rules(conflict=ConflictResolution.FIELD_MERGE),
         Decision.CONFLICT_MERGE, to_mailbox=Target.UPDATE, to_erp=Target.UPDATE,
         check=lambda a: a.both_changed_fields == 0 and a.erp_record is not None
         and a.erp_record.field_values()["job_title"] == "CTO"
         and a.erp_record.field_values()["last_name"] == "Lee-Smith"),
    Case("conflict, field_merge of one field -> newer side wins it",
         linked(erp(E_EDIT, "v2", at=1), mbx(M_EDIT_SAME_FIELD, "e2", at=2)),
         rules(conflict=ConflictResolution.FIELD_MERGE), Decision.CONFLICT_MERGE, to_erp=Target.UPDATE,
         check=lambda a: a.both_changed_fields == 1 and a.erp_record is not None
         and a.erp_record.field_values()["job_title"] == "CFO"),
    Case("conflict under a one-way direction -> the source side wins",
         linked(erp(E_EDIT, "v2", at=1), mbx(M_EDIT, "e2", at=9)),
         rules(direction=Direction.SYSTEM_TO_EXCHANGE, conflict=ConflictResolution.EXCHANGE),
         Decision.CONFLICT_SYSTEM, to_mailbox=Target.UPDATE),
    Case("conflict under exchange_to_system -> the mailbox wins",
         linked(erp(E_EDIT, "v2", at=9), mbx(M_EDIT, "e2", at=1)),
         rules(direction=Direction.EXCHANGE_TO_SYSTEM, conflict=ConflictResolution.SYSTEM),
         Decision.CONFLICT_EXCHANGE, to_erp=Target.UPDATE),
    # ---- unlinked items
    Case("removal of an unknown item", Pair(RecordType.CONTACT, None, None, None), rules(), Decision.NOTHING),
    Case("deferred (an unfinished create involves it)", linked(erp(E_EDIT, "v2"), mbx(BASE), deferred=True),
         rules(), Decision.DEFER, link=LinkOp.KEEP),
    Case("blocked (stamp out of scope)", unlinked(None, mbx(BASE, categories=TAGGED), blocked="scope"), rules(),
         Decision.SKIP_BLOCKED),
    Case("blocked (event organized by a synced mailbox)", unlinked(erp(LIVE_EVENT), None, blocked="other"),
         rules(RecordType.EVENT), Decision.SKIP_BLOCKED),
    Case("found on both sides, equal -> link", unlinked(erp(BASE), mbx(BASE)), rules(), Decision.ADOPT,
         link=LinkOp.SAVE, check=lambda a: not a.writes),
    Case("found on both sides, differing -> reconcile by last_updated", unlinked(erp(E_EDIT, at=1),
                                                                                   mbx(M_EDIT, at=2)),
         rules(), Decision.ADOPT, to_erp=Target.UPDATE, check=lambda a: not a.conflict),
    Case("found on both sides under keep_both -> no copies", unlinked(erp(E_EDIT, at=2), mbx(M_EDIT, at=1)),
         rules(conflict=ConflictResolution.KEEP_BOTH), Decision.ADOPT, to_mailbox=Target.UPDATE),
    Case("found on both sides, ineligible", unlinked(erp(DRAFT_TASK), mbx(OPEN_TASK)), rules(RecordType.TASK),
         Decision.SKIP_INELIGIBLE),
    Case("new erp Draft task -> not synced", unlinked(erp(DRAFT_TASK), None), rules(RecordType.TASK),
         Decision.SKIP_INELIGIBLE),
    Case("new cancelled erp event -> nothing to create", unlinked(erp(CANCELLED), None), rules(RecordType.EVENT),
         Decision.SKIP_INELIGIBLE),
    Case("new erp record, mailbox read-only -> skip", unlinked(erp(BASE), None),
         rules(direction=Direction.EXCHANGE_TO_SYSTEM), Decision.SKIP_DIRECTION),
    Case("new erp record -> create in mailbox", unlinked(erp(BASE), None), rules(), Decision.CREATE_MAILBOX,
         to_mailbox=Target.CREATE, link=LinkOp.SAVE),
    Case("new deferred To Do task -> not synced",
         unlinked(None, mbx(Task(status=TaskStatus.DEFERRED), categories=TAGGED)), rules(RecordType.TASK),
         Decision.SKIP_INELIGIBLE),
    Case("new mailbox item without the category -> not imported", unlinked(None, mbx(BASE)), rules(),
         Decision.SKIP_NO_CATEGORY),
    Case("category match ignores case", unlinked(None, mbx(BASE, categories=("erp",))), rules(),
         Decision.CREATE_ERP, to_erp=Target.CREATE),
    Case("new mailbox item without category, sync_without_category -> imported", unlinked(None, mbx(BASE)),
         rules(without_category=True), Decision.CREATE_ERP, to_erp=Target.CREATE),
    Case("new mailbox task without category -> not imported", unlinked(None, mbx(OPEN_TASK)),
         rules(RecordType.TASK), Decision.SKIP_NO_CATEGORY),
    Case("new item without category in a separate folder -> imported (the folder is the scope)",
         unlinked(None, mbx(BASE)), dataclasses.replace(rules(), folder_is_scope=True), Decision.CREATE_ERP,
         to_erp=Target.CREATE),
    Case("new task without category in a separate To Do list -> imported",
         unlinked(None, mbx(OPEN_TASK)), dataclasses.replace(rules(RecordType.TASK), folder_is_scope=True),
         Decision.CREATE_ERP, to_erp=Target.CREATE),
    Case("new mailbox e-mail needs no category", unlinked(None, mbx(MAIL)), rules(RecordType.EMAIL),
         Decision.CREATE_ERP, to_erp=Target.CREATE),
    Case("new mailbox item, erp read-only -> skip", unlinked(None, mbx(BASE, categories=TAGGED)),
         rules(direction=Direction.SYSTEM_TO_EXCHANGE), Decision.SKIP_DIRECTION),
    Case("new mailbox item -> create in erp", unlinked(None, mbx(BASE, categories=TAGGED)), rules(),
         Decision.CREATE_ERP, to_erp=Target.CREATE, link=LinkOp.SAVE),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decision_table(case: Case) -> None:
    action = plan(case.pair, case.rules)
    assert action.decision is case.decision
    assert (action.to_mailbox, action.to_erp) == (case.to_mailbox, case.to_erp)
    if case.link is not None:
        assert action.link is case.link
    if case.check is not None:
        assert case.check(action), action


def test_every_decision_is_covered() -> None:
    covered = {plan(c.pair, c.rules).decision for c in CASES}
    assert covered == set(Decision)


@pytest.mark.parametrize("record_type", list(RecordType))
def test_type_rules_follow_the_policy(record_type: RecordType) -> None:
    section = {RecordType.CONTACT: "contacts", RecordType.EMAIL: "emails", RecordType.TASK: "tasks",
               RecordType.EVENT: "events"}[record_type]
    body: dict[str, Any] = {"name": "p", "conflict_resolution": "keep_both", "category": {"name": "CRM"}}
    if record_type is not RecordType.EMAIL:
        body[section] = {"direction": "system_to_exchange", "sync_without_category": True}
    r = TypeRules.of(SyncPolicy.model_validate(body), record_type)
    assert r.conflict is ConflictResolution.KEEP_BOTH and r.category == "CRM"
    assert r.deletes_propagate is (record_type is not RecordType.EMAIL)
    if record_type is RecordType.EMAIL:
        assert r.direction is Direction.BIDIRECTIONAL
    else:
        assert r.direction is Direction.SYSTEM_TO_EXCHANGE and r.sync_without_category


def test_change_needs_version_and_content() -> None:
    lk = link()
    assert not merge.erp_changed(erp(BASE, "v2"), lk)          # version only
    assert not merge.erp_changed(erp(E_EDIT, "v1"), lk)        # same version
    assert merge.erp_changed(erp(E_EDIT, "v2"), lk)
    assert not merge.mailbox_changed(mbx(BASE.with_fields({"email": " ANN@x.com "}), "e2"), lk)  # normalized


@pytest.mark.parametrize(("section", "folder", "scope"), [
    ("contacts", None, False), ("contacts", "ERP Contacts", True), ("tasks", None, False),
    ("tasks", "ERP Tasks", True), ("events", None, False), ("events", "ERP Calendar", True)])
def test_a_separate_folder_is_the_scope(section: str, folder: str | None, scope: bool) -> None:
    record_type = {"contacts": RecordType.CONTACT, "tasks": RecordType.TASK, "events": RecordType.EVENT}[section]
    policy = SyncPolicy.model_validate({"name": "p", section: {"folder": folder}})
    assert TypeRules.of(policy, record_type).folder_is_scope is scope
