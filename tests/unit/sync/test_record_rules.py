"""The record rules of PRODUCT §1 and §4, end to end through the engine and the in-memory twins."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import (
    Attachment,
    Attendee,
    Contact,
    EmailMessage,
    Event,
    RecordType,
    Task,
    TaskStatus,
)
from shared.domain.status import LogLevel, RunState
from shared.ports import AttachmentContent, ErpScope
from shared.sync.names import SENT_ITEMS
from tests.unit.sync.harness import EMAIL, EMPLOYEE, Harness, hashes

C, M, T, E = RecordType.CONTACT, RecordType.EMAIL, RecordType.TASK, RecordType.EVENT
START = datetime(2026, 3, 1, 9, tzinfo=UTC)


def harness(**policy: Any) -> Harness:
    server = policy.pop("server", {})
    return Harness(SyncPolicy.model_validate({"name": "p", **policy}),
                   ServerConfig(name="s1", logging_level="verbose", **server))


# ---------------------------------------------------------------- contacts


async def test_contacts_export_into_the_policy_folder_with_category_and_link() -> None:
    h = harness(contacts={"folder": "CRM", "hyperlink": "https://erp.contoso.com/"},
                category={"name": "Acumatica", "color": "preset3"})
    erp_id = h.user_erp_create(C, Contact(first_name="Ann", email="ann@x.com"))
    assert (await h.run(C)).state is RunState.SUCCEEDED
    [item] = h.mbx.items(EMAIL, C, h.mbx.container_id(EMAIL, C, "CRM"))
    assert item.categories == ("Acumatica",) and item.stamp == erp_id
    assert h.mbx.web_page_of(item.id) == f"https://erp.contoso.com/{erp_id}"
    assert h.mbx.categories_of(EMAIL) == {"Acumatica": "preset3"}
    assert h.mbx.items(EMAIL, C, h.mbx.container_id(EMAIL, C, None)) == []


async def test_contact_import_sets_owner_and_class_and_merges_by_email() -> None:
    h = harness(contacts={"contact_class": "LEAD"})
    existing = h.user_erp_create(C, Contact(first_name="Bob", email="bob@x.com"), owner="OTHER")
    h.erp.user_update(existing, owner=EMPLOYEE)
    h.user_mailbox_create(C, Contact(first_name="Cy", email="cy@x.com"))
    await h.run(C)
    h.user_mailbox_create(C, Contact(first_name="Robert", email="BOB@x.com"))
    await h.run(C)
    erp = {i.record.email.lower(): i for i in h.erp_items(C)}
    assert set(erp) == {"bob@x.com", "cy@x.com"}                     # merged, not duplicated
    assert erp["cy@x.com"].owner == EMPLOYEE and erp["cy@x.com"].contact_class == "LEAD"


async def test_merge_by_email_off_imports_a_second_contact() -> None:
    h = harness(contacts={"merge_by_email": False})
    h.user_erp_create(C, Contact(first_name="Bob", email="bob@x.com"))
    await h.run(C)
    h.user_mailbox_create(C, Contact(first_name="Robert", email="bob@x.com"))
    await h.run(C)
    assert len(h.erp_items(C)) == 2


async def test_leaving_the_scope_unlinks_and_never_deletes() -> None:
    h = harness()
    erp_id = h.user_erp_create(C, Contact(first_name="Ann", email="ann@x.com"))
    await h.run(C)
    h.erp.user_update(erp_id, owner="SOMEONE_ELSE")
    summary = await h.run(C)
    assert summary.state is RunState.SUCCEEDED
    assert len(h.mailbox_items(C)) == 1 and len(h.erp_items(C)) == 1
    assert await h.state.get_link_by_erp(EMAIL, C, erp_id) is None
    # the stamped copy is not imported as a new ERP contact when the user edits it
    [item] = h.mailbox_items(C)
    h.mbx.user_update(EMAIL, item.id, item.record.with_fields({"city": "Oslo"}))
    await h.run(C)
    assert len(h.erp_items(C)) == 1


async def test_filter_all_sees_every_contact() -> None:
    h = harness(contacts={"filter": "all"})
    h.user_erp_create(C, Contact(first_name="A"), owner="X")
    h.user_erp_create(C, Contact(first_name="B"), owner=None)
    await h.run(C)
    assert len(h.mailbox_items(C)) == 2


async def test_directions_never_write_the_other_side() -> None:
    h = harness(contacts={"direction": "system_to_exchange"})
    h.user_erp_create(C, Contact(first_name="A"))
    h.user_mailbox_create(C, Contact(first_name="B"))
    await h.run(C)
    assert len(h.erp_items(C)) == 1 and not h.erp.applied
    h = harness(contacts={"direction": "exchange_to_system"})
    h.user_erp_create(C, Contact(first_name="A"))
    h.user_mailbox_create(C, Contact(first_name="B"))
    await h.run(C)
    assert len(h.erp_items(C)) == 2 and not h.mbx.applied


# ---------------------------------------------------------------- e-mails


async def test_erp_outgoing_mail_is_sent_and_lands_in_sent_items() -> None:
    h = harness()
    h.user_erp_create(M, EmailMessage(subject="Offer", from_address=EMAIL, to=("bob@x.com",), incoming=False))
    h.user_erp_create(M, EmailMessage(subject="Question", from_address="bob@x.com", to=(EMAIL,)))
    assert (await h.run(M)).state is RunState.SUCCEEDED
    sent = h.mbx.items(EMAIL, M, h.mbx.container_id(EMAIL, M, SENT_ITEMS))
    folder = h.mailbox_items(M)
    assert [i.record.subject for i in sent] == ["Offer"]
    assert [i.record.subject for i in folder] == ["Question"]
    writes = len(h.mbx.applied)
    assert (await h.run(M)).state is RunState.SUCCEEDED
    assert len(h.mbx.applied) == writes                       # linked: never sent twice


async def test_mailbox_mail_becomes_an_activity_linked_to_contacts() -> None:
    h = harness(emails={"create_unknown_contacts": True})
    bob = h.user_erp_create(C, Contact(first_name="Bob", email="bob@x.com"))
    h.user_mailbox_create(M, EmailMessage(subject="Hi", from_address="bob@x.com", to=(EMAIL, "new@y.com"),
                                          internet_message_id="<m1@x>"), tagged=False)
    assert (await h.run(M)).state is RunState.SUCCEEDED
    [activity] = h.erp_items(M)
    contacts = {i.record.email: i.id for i in h.erp_items(C)}
    assert set(contacts) == {"bob@x.com", "new@y.com"}
    assert set(activity.related_contacts) == {bob, contacts["new@y.com"]}
    assert activity.owner == EMPLOYEE


async def test_unknown_addresses_stay_unknown_unless_the_policy_says_so() -> None:
    h = harness()
    h.user_mailbox_create(M, EmailMessage(subject="Hi", from_address="x@y.com", to=(EMAIL,)), tagged=False)
    await h.run(M)
    assert h.erp_items(C) == [] and h.erp_items(M)[0].related_contacts == ()


async def test_mail_is_deduplicated_by_internet_message_id() -> None:
    h = harness()
    h.user_erp_create(M, EmailMessage(subject="Hi", from_address="bob@x.com", to=(EMAIL,),
                                      internet_message_id="<same@x>"))
    h.user_mailbox_create(M, EmailMessage(subject="Hi", from_address="bob@x.com", to=(EMAIL,),
                                          internet_message_id="<same@x>"), tagged=False)
    assert (await h.run(M)).state is RunState.SUCCEEDED
    assert len(h.erp_items(M)) == 1 and len(h.mailbox_items(M)) == 1
    assert not h.mbx.applied and not h.erp.applied


async def test_attachments_over_the_limit_are_skipped_with_a_log_line() -> None:
    h = harness(server={"max_attachment_kb": 1})
    small, big = b"x" * 100, b"y" * 5000
    files = (AttachmentContent(Attachment("small.txt", len(small)), small),
             AttachmentContent(Attachment("big.bin", len(big)), big))
    record = EmailMessage(subject="Files", from_address="bob@x.com", to=(EMAIL,),
                          attachments=tuple(f.meta for f in files))
    h.mbx.user_create(EMAIL, M, h.container(M), record, files=files)
    summary = await h.run(M)
    assert summary.state is RunState.SUCCEEDED
    [activity] = h.erp_items(M)
    assert [f.meta.name for f in h.erp.files_of(activity.id)] == ["small.txt"]
    log = await h.state.list_log(EMAIL, LogLevel.INFORMATIONAL, 50, None)
    assert any("over the 1 KB limit skipped" in entry.message for entry in log.items)  # type: ignore[union-attr]


async def test_attachments_off_sends_none() -> None:
    h = harness(emails={"sync_attachments": False})
    data = b"z" * 10
    files = (AttachmentContent(Attachment("a.txt", 10), data),)
    h.mbx.user_create(EMAIL, M, h.container(M), EmailMessage(subject="F", attachments=(files[0].meta,)),
                      files=files)
    await h.run(M)
    [activity] = h.erp_items(M)
    assert h.erp.files_of(activity.id) == ()


# ---------------------------------------------------------------- tasks


async def test_task_statuses_without_counterpart_are_not_synced() -> None:
    h = harness(tasks={"folder": "CRM"})
    h.user_erp_create(T, Task(title="draft", status=None))
    h.user_erp_create(T, Task(title="open", status=TaskStatus.NOT_STARTED))
    h.user_erp_create(T, Task(title="waiting", status=TaskStatus.WAITING_ON_OTHERS))
    h.user_mailbox_create(T, Task(title="deferred", status=TaskStatus.DEFERRED))
    await h.run(T)
    assert sorted(i.record.title for i in h.mailbox_items(T)) == ["deferred", "open", "waiting"]
    assert sorted(i.record.title for i in h.erp_items(T)) == ["draft", "open", "waiting"]


async def test_only_tasks_with_the_category_are_imported() -> None:
    h = harness()
    h.user_mailbox_create(T, Task(title="private"), tagged=False)
    h.user_mailbox_create(T, Task(title="work"))
    await h.run(T)
    assert [i.record.title for i in h.erp_items(T)] == ["work"]
    h2 = harness(tasks={"sync_without_category": True})
    h2.user_mailbox_create(T, Task(title="private"), tagged=False)
    await h2.run(T)
    assert [i.record.title for i in h2.erp_items(T)] == ["private"]


async def test_task_deletes_go_both_ways() -> None:
    h = harness()
    a = h.user_erp_create(T, Task(title="a"))
    h.user_erp_create(T, Task(title="b"))
    await h.run(T)
    h.erp.user_delete(a)
    b_item = next(i for i in h.mailbox_items(T) if i.record.title == "b")
    h.mbx.user_delete(EMAIL, b_item.id)
    assert (await h.run(T)).state is RunState.SUCCEEDED
    assert h.mailbox_items(T) == [] and h.erp_items(T) == []


# ---------------------------------------------------------------- events


def event(**kw: Any) -> Event:
    return Event(**{"subject": "Review", "start": START, "end": START, "organizer": EMAIL, **kw})


async def test_cancelled_erp_event_removes_the_appointment_and_attendee_changes_update_it() -> None:
    h = harness()
    erp_id = h.user_erp_create(E, event(attendees=(Attendee("bob@x.com"),)))
    await h.run(E)
    h.erp.user_update(erp_id, event(attendees=(Attendee("bob@x.com"), Attendee("cy@x.com"))))
    await h.run(E)
    [item] = h.mailbox_items(E)
    assert [a.email for a in item.record.attendees] == ["bob@x.com", "cy@x.com"]
    h.erp.user_update(erp_id, event(cancelled=True))
    assert (await h.run(E)).state is RunState.SUCCEEDED
    assert h.mailbox_items(E) == []
    assert any(w.kind.value == "cancel" for _, w in h.mbx.applied)


async def test_event_of_an_unsynced_organizer_reaches_the_attendee() -> None:
    h = harness()
    h.user_erp_create(E, event(organizer="boss@contoso.com", attendees=(Attendee(EMAIL),)), owner=None)
    await h.run(E)
    [item] = h.mailbox_items(E)
    assert item.record.attendees == ()      # no invitations sent in the attendee's name
    h.mbx.user_update(EMAIL, item.id, item.record.with_fields({"subject": "mine"}))
    await h.run(E)
    assert h.erp_items(E)[0].record.subject == "Review"   # the attendee's copy never writes the ERP


async def test_event_of_a_synced_organizer_comes_as_the_invitation_not_from_us() -> None:
    h = harness()
    await h.state.put_mailbox(Mailbox(email="boss@contoso.com", server="s1", employee_id="EP2"))
    h.user_erp_create(E, event(organizer="boss@contoso.com", attendees=(Attendee(EMAIL),)), owner=None)
    await h.run(E)
    assert h.mailbox_items(E) == []


async def test_event_deletes_go_both_ways() -> None:
    h = harness()
    a = h.user_erp_create(E, event(subject="a"))
    h.user_mailbox_create(E, event(subject="b"))
    await h.run(E)
    assert len(h.erp_items(E)) == 2
    h.erp.user_delete(a)
    b_item = next(i for i in h.mailbox_items(E) if i.record.subject == "b")
    h.mbx.user_delete(EMAIL, b_item.id)
    await h.run(E)
    assert h.mailbox_items(E) == [] and h.erp_items(E) == []


# ---------------------------------------------------------------- safety, status, log


async def test_mass_delete_guard_blocks_then_admin_can_proceed() -> None:
    h = harness(server={"mass_delete_threshold": 0.5})
    ids = [h.user_erp_create(C, Contact(first_name=f"c{i}")) for i in range(12)]
    await h.run(C)
    for erp_id in ids[:8]:
        h.erp.user_delete(erp_id)
    summary = await h.run(C)
    assert summary.state is RunState.WARNING and "would delete 8 of 12" in summary.message
    assert len(h.mailbox_items(C)) == 12                      # nothing deleted
    status = await h.state.get_status(EMAIL)
    assert status is not None and status.value.warning and "would delete" in status.value.warning
    again = await h.run(C)                                     # still blocked: the deletions are not forgotten
    assert again.state is RunState.WARNING and len(h.mailbox_items(C)) == 12
    h.server = h.server.model_copy(update={"mass_delete_threshold": 1.0})
    assert (await h.run(C)).state is RunState.SUCCEEDED
    assert len(h.mailbox_items(C)) == 4


async def test_a_small_set_is_not_guarded() -> None:
    h = harness(server={"mass_delete_threshold": 0.5})
    ids = [h.user_erp_create(C, Contact(first_name=f"c{i}")) for i in range(3)]
    await h.run(C)
    for erp_id in ids:
        h.erp.user_delete(erp_id)
    assert (await h.run(C)).state is RunState.SUCCEEDED and h.mailbox_items(C) == []


async def test_dead_delta_cursor_resyncs_without_duplicates_and_finds_deletions() -> None:
    h = harness()
    for i in range(5):
        h.user_erp_create(C, Contact(first_name=f"e{i}"))
        h.user_mailbox_create(C, Contact(first_name=f"m{i}"))
    await h.run(C)
    gone = h.mailbox_items(C)[0]
    h.mbx.user_delete(EMAIL, gone.id)
    h.mbx.invalidate_cursors(EMAIL)
    summary = await h.run(C)
    assert summary.state is RunState.SUCCEEDED
    assert len(h.mailbox_items(C)) == len(h.erp_items(C)) == 9
    assert hashes(h.mailbox_items(C)) == hashes(h.erp_items(C))


async def test_status_dates_and_reset() -> None:
    h = harness()
    h.user_erp_create(C, Contact(first_name="a"))
    await h.run(C)
    stored = await h.state.get_status(EMAIL)
    assert stored is not None and C in stored.value.export_dates and C in stored.value.import_dates
    # the admin resets the export date: the ERP side is re-read fully, nothing is written twice
    reset = dataclasses.replace(stored.value, export_dates={}, warning="kept?")
    await h.state.put_status(reset, stored.etag)
    before = (len(h.mbx.applied), len(h.erp.applied))
    assert (await h.run(C)).state is RunState.SUCCEEDED
    after = await h.state.get_status(EMAIL)
    assert after is not None and C in after.value.export_dates
    assert (len(h.mbx.applied), len(h.erp.applied)) == before
    assert len(h.mailbox_items(C)) == 1
    assert after.value.warning == "kept?"                      # other status fields are kept
    log = await h.state.list_log(EMAIL, None, 100, None)
    assert any("date was reset" in e.message for e in log.items)  # type: ignore[union-attr]


async def test_log_has_counts_and_never_record_contents() -> None:
    h = harness()
    h.user_erp_create(C, Contact(first_name="Zebulon", email="zeb@secret.example"))
    await h.run(C)
    page = await h.state.list_log(EMAIL, None, 100, None)
    messages = [e.message for e in page.items]  # type: ignore[union-attr]
    assert any("created 1" in m for m in messages)
    assert not any("Zebulon" in m or "zeb@secret" in m for m in messages)


async def test_logging_level_none_keeps_no_lines() -> None:
    h = harness()
    h.server = h.server.model_copy(update={"logging_level": "none"})
    h.user_erp_create(C, Contact(first_name="a"))
    await h.run(C)
    assert (await h.state.list_log(EMAIL, None, 10, None)).items == ()


async def test_writes_go_out_in_batches_of_the_update_batch_size() -> None:
    h = harness(server={"update_batch_size": 2})
    sizes: list[int] = []
    original = h.mbx.apply

    async def spy(mailbox: str, writes: Any) -> Any:
        sizes.append(len(writes))
        return await original(mailbox, writes)

    h.mbx.apply = spy  # type: ignore[method-assign]
    for i in range(5):
        h.user_erp_create(C, Contact(first_name=f"c{i}"))
    await h.run(C)
    assert sizes and max(sizes) <= 2 and sum(sizes) == 5


async def test_a_failing_item_is_scoped_and_retried() -> None:
    h = harness()
    for i in range(3):
        h.user_erp_create(C, Contact(first_name=f"c{i}"))
    h.mbx.fail_write(2)
    summary = await h.run(C)
    assert summary.state is RunState.WARNING
    assert summary.counts["contact.mailbox"].failed == 1 and summary.counts["contact.mailbox"].created == 2
    assert (await h.run(C)).state is RunState.SUCCEEDED
    assert len(h.mailbox_items(C)) == 3


async def test_progress_is_reported_per_type_and_side() -> None:
    h = harness()
    h.user_erp_create(C, Contact(first_name="a"))
    seen: list[tuple[str, int]] = []
    from tests.engine import sync_mailbox
    await sync_mailbox(mailbox=h.mailbox, server=h.server, policy=h.policy, mailbox_gateway=h.mbx,
                       erp_gateway=h.erp, state=h.state, clock=h.clock, run_id="r", record_types=[C],
                       progress=lambda key, n: seen.append((key, n)))
    assert ("contact.erp", 1) in seen and any(k == "contact.mailbox" for k, _ in seen)


def test_scope_rules() -> None:
    from shared.ports import ErpItem
    from shared.sync.scope import in_scope
    scope = ErpScope(EMPLOYEE, EMAIL)
    item = ErpItem("1", "v", START, event(organizer="x@y.com", attendees=(Attendee(EMAIL.upper()),)))
    assert in_scope(E, item, scope)
    mail = ErpItem("2", "v", START, EmailMessage(from_address="a@b.com", cc=(EMAIL,)))
    assert in_scope(M, mail, scope)
    task = ErpItem("3", "v", START, Task(), owner="OTHER")
    assert not in_scope(T, task, scope)


async def test_failures_set_the_status_warning_and_stop_the_run_when_the_policy_says_so() -> None:
    h = harness(continue_on_error=False)
    h.user_erp_create(C, Contact(first_name="a"))
    h.user_erp_create(T, Task(title="t"))
    h.erp.fail_call(1)                          # the contact listing fails: the type stops
    summary = await h.run(C, T)
    assert summary.state is RunState.FAILED
    assert h.mailbox_items(T) == []             # tasks not attempted after the first error
    status = await h.state.get_status(EMAIL)
    assert status is not None and status.value.warning and "stopped with an error" in status.value.warning
    assert (await h.run(C, T)).state is RunState.SUCCEEDED
    assert len(h.mailbox_items(T)) == 1


async def test_an_unchanged_status_is_not_taken_for_a_reset() -> None:
    h = harness()
    h.user_erp_create(C, Contact(first_name="a"))
    await h.run(C)
    await h.run(C)
    log = await h.state.list_log(EMAIL, None, 100, None)
    assert not any("date was reset" in e.message for e in log.items)  # type: ignore[union-attr]


async def test_first_sync_needs_no_stamp_lookups_and_lost_state_relinks_by_stamp() -> None:
    from shared.state.memory import InMemoryStateStore
    h = harness()
    for i in range(6):
        h.user_erp_create(C, Contact(first_name=f"c{i}"))
    calls = 0
    original = h.mbx.find_by_stamp

    async def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(*args)

    h.mbx.find_by_stamp = counting  # type: ignore[method-assign]
    assert (await h.run(C)).state is RunState.SUCCEEDED
    assert calls == 0 and len(h.mailbox_items(C)) == 6
    h.state = InMemoryStateStore(h.clock)      # the state store is lost: links, cursors, everything
    h.erp.user_update(h.erp_items(C)[0].id, Contact(first_name="edited"))
    assert (await h.run(C)).state is RunState.SUCCEEDED
    assert len(h.mailbox_items(C)) == 6 and len(h.erp_items(C)) == 6
    assert hashes(h.mailbox_items(C)) == hashes(h.erp_items(C))


async def test_error_messages_are_not_copied_into_the_log() -> None:
    from shared.errors import ValidationFailed
    h = harness()
    h.user_erp_create(C, Contact(first_name="a"))
    h.mbx.fail_write(1, ValidationFailed({"emailAddresses": "'secret@private.example' is not valid"}))
    summary = await h.run(C)
    assert summary.state is RunState.WARNING
    page = await h.state.list_log(EMAIL, None, 100, None)
    messages = " ".join(e.message for e in page.items)  # type: ignore[union-attr]
    assert "ValidationFailed" in messages and "emailAddresses" in messages
    assert "secret@private.example" not in messages


async def test_workgroup_filter_uses_the_gateways_workgroups() -> None:
    h = harness(contacts={"filter": "workgroup"})
    h.erp.workgroups[EMPLOYEE] = ("WG1",)
    stays = h.user_erp_create(C, Contact(first_name="stays"), owner="X", workgroup="WG1")
    leaves = h.user_erp_create(C, Contact(first_name="leaves"), owner="X", workgroup="WG1")
    h.user_erp_create(C, Contact(first_name="never"), owner="X", workgroup="WG9")
    await h.run(C)
    assert sorted(i.record.first_name for i in h.mailbox_items(C)) == ["leaves", "stays"]
    h.erp.user_update(leaves, workgroup="WG2")
    item = next(i for i in h.mailbox_items(C) if i.record.first_name == "stays")
    h.mbx.user_update(EMAIL, item.id, item.record.with_fields({"city": "Oslo"}))
    assert (await h.run(C)).state is RunState.SUCCEEDED
    assert len(h.mailbox_items(C)) == 2                                   # leaving the scope deletes nothing
    assert await h.state.get_link_by_erp(EMAIL, C, leaves) is None        # ... it unlinks
    erp = {i.id: i for i in h.erp_items(C)}
    assert erp[stays].record.city == "Oslo"                               # the in-scope pair still syncs


async def test_the_erp_link_never_overwrites_the_contacts_own_web_site() -> None:
    h = harness(contacts={"hyperlink": "https://erp.contoso.com/"})
    erp_id = h.user_erp_create(C, Contact(first_name="Ann", web_page="https://ann.example"))
    await h.run(C)
    [item] = h.mailbox_items(C)
    assert item.record.web_page == f"https://erp.contoso.com/{erp_id}"    # what Outlook shows
    h.mbx.user_update(EMAIL, item.id, item.record.with_fields({"city": "Oslo"}))
    assert (await h.run(C)).state is RunState.SUCCEEDED
    [erp] = h.erp_items(C)
    assert erp.record.city == "Oslo" and erp.record.web_page == "https://ann.example"
    h.erp.user_update(erp_id, erp.record.with_fields({"job_title": "CEO"}))
    await h.run(C)
    [item] = h.mailbox_items(C)
    assert item.record.job_title == "CEO" and item.record.web_page == f"https://erp.contoso.com/{erp_id}"
    before = (len(h.mbx.applied), len(h.erp.applied))
    await h.run(C)
    assert (len(h.mbx.applied), len(h.erp.applied)) == before
