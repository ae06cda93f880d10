"""The system-mailbox processor on the in-memory twins (ERP, mailbox, state): exactly once, replies,
attachments, owners, ignored mail. Request-level behaviour over HTTP is in tests/e2e."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.records import Attachment
from shared.erp.crm_memory import InMemoryCrm
from shared.errors import RemoteError
from shared.graph.system_mail_memory import InMemorySystemMail
from shared.mailproc.model import SystemMailbox
from shared.mailproc.process import STAMP_IGNORED, Processor
from shared.ports import AttachmentContent, InboxMessage
from shared.state.memory import InMemoryStateStore
from shared.state.threads import ThreadMap

BOX = "support@contoso.test"
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        return self.current


def message(n: int, *, sender: str = "carol@customer.test", conversation: str | None = None,
            headers: dict[str, str] | None = None, subject: str = "Printer broken") -> InboxMessage:
    return InboxMessage(id="", internet_message_id=f"<m{n}@customer.test>", conversation_id=conversation or f"c{n}",
                        subject=subject, sender=sender, sender_name="Carol King", to=(BOX,), cc=(), body="It jams",
                        received_at=T0, headers=dict(headers or {}))


def world(**incoming: Any) -> tuple[Processor, InMemorySystemMail, InMemoryCrm, Clock]:
    settings = SystemMailbox.model_validate({
        "address": BOX, "server": "m365",
        "incoming": {"case_class": "SUPPORT", "tag_prefix": "SUP",
                     "confirm_receipt": {"body": "Case {case_id} for {subject}"}, **incoming}})
    mail, crm, clock = InMemorySystemMail(), InMemoryCrm({"ed@contoso.test": "EP0007"}), Clock()
    return Processor(settings, mail, crm, ThreadMap(InMemoryStateStore()), clock, frozenset({BOX})), mail, crm, clock


async def test_new_mail_creates_contact_case_email_and_one_confirmation() -> None:
    proc, mail, crm, _ = world()
    item = mail.deliver(BOX, message(1))
    result = await proc.process(item)
    assert result.record is not None and result.record.kind == "case" and result.replied
    assert [e["related"][0] for e in crm.filed()] == ["case"]  # type: ignore[index]
    assert len(crm.records["contact"]) == 1 and crm.writes == 3  # contact, case, e-mail
    [sent] = mail.sent[BOX]
    assert sent["in-reply-to"] == "<m1@customer.test>" and sent["auto-submitted"] == "auto-generated"
    assert "[SUP#000001]" in sent["subject"]
    assert (await mail.get_message(BOX, item.id)).stamp == result.email_id  # type: ignore[union-attr]
    assert mail.is_read(BOX, item.id)
    again = await proc.process(await mail.get_message(BOX, item.id))  # type: ignore[arg-type]
    assert again.skipped and crm.writes == 3 and len(mail.sent[BOX]) == 1


async def test_a_crash_after_the_erp_write_resumes_without_a_second_record() -> None:
    proc, mail, crm, _ = world()
    item = mail.deliver(BOX, message(1))
    crm.fail_after_writes = 3  # the e-mail is written, then the "process" dies
    with pytest.raises(RemoteError):
        await proc.process(item)
    assert len(crm.emails) == 1 and len(crm.records["case"]) == 1
    result = await proc.process(item)
    assert not result.skipped and len(crm.emails) == 1 and len(crm.records["case"]) == 1
    assert len(crm.records["contact"]) == 1


async def test_a_crash_before_the_stamp_only_redoes_the_bookkeeping() -> None:
    proc, mail, crm, _ = world()
    item = mail.deliver(BOX, message(1))
    calls = {"n": 0}
    real = mail.stamp

    async def failing(mailbox: str, message_id: str, value: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RemoteError("stamp failed")
        await real(mailbox, message_id, value)

    mail.stamp = failing  # type: ignore[method-assign]
    with pytest.raises(RemoteError):
        await proc.process(item)
    writes = crm.writes
    result = await proc.process(item)
    assert result.skipped and crm.writes == writes
    assert (await mail.get_message(BOX, item.id)).stamp and mail.is_read(BOX, item.id)  # type: ignore[union-attr]


async def test_one_automatic_reply_per_sender_and_thread_per_hour() -> None:
    proc, mail, crm, clock = world(closed_case="new_case")
    first = await proc.process(mail.deliver(BOX, message(1, conversation="conv")))
    assert first.record is not None
    crm.close_case(first.record.id)  # the same thread again opens a new case (closed_case=new_case) ...
    second = await proc.process(mail.deliver(BOX, message(2, conversation="conv")))
    assert second.decision.outcome.value == "new_case" and not second.replied  # ... without a second reply
    clock.current = T0 + timedelta(hours=1, minutes=1)
    assert second.record is not None
    crm.close_case(second.record.id)
    third = await proc.process(mail.deliver(BOX, message(3, conversation="conv")))
    assert third.replied and len(mail.sent[BOX]) == 2


async def test_ignored_mail_is_stamped_and_writes_nothing() -> None:
    proc, mail, crm, _ = world()
    item = mail.deliver(BOX, message(1, headers={"auto-submitted": "auto-replied"}))
    result = await proc.process(item)
    assert result.decision.outcome.value == "ignore_auto" and crm.writes == 0 and BOX not in mail.sent
    assert (await mail.get_message(BOX, item.id)).stamp == STAMP_IGNORED  # type: ignore[union-attr]
    assert not mail.is_read(BOX, item.id)


async def test_attachments_by_type_and_size_owner_and_folder() -> None:
    proc, mail, crm, _ = world(allowed_attachment_types=["pdf"], max_attachment_kb=1, route_employee_mail=True,
                               default_owner="EP0001", after_processing="move", move_to_folder="Done",
                               unknown_sender="none")

    def file(name: str, size: int) -> AttachmentContent:
        return AttachmentContent(Attachment(name=name, size=size), b"x" * size)

    item = mail.deliver(BOX, message(1, sender="ed@contoso.test"),
                        files=(file("a.pdf", 10), file("b.pdf", 5000), file("c.exe", 10)))
    await proc.process(item)
    [filed] = crm.emails.values()
    assert [f.meta.name for f in filed.files] == ["a.pdf"] and filed.owner == "EP0007"
    assert mail.folder_of(BOX, item.id) == "Done"


async def test_dry_run_writes_nothing() -> None:
    proc, mail, crm, _ = world()
    item = mail.deliver(BOX, message(1))
    result = await proc.dry_run(item)
    assert result.decision.branch.name == "NEW_CASE_CREATE_CONTACT" and not result.skipped
    assert crm.writes == 0 and BOX not in mail.sent
    assert (await mail.get_message(BOX, item.id)).stamp is None  # type: ignore[union-attr]
    assert await proc.threads.intent(BOX, item.internet_message_id) is None
