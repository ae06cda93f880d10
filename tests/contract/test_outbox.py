"""OutboxGateway contract: the in-memory twin and the Acumatica adapter (simulator over HTTP) agree.

The harness queues e-mails the way the ERP does (MailStatus Pending Processing, a system account),
behind the gateway's back: the twin's ``queue``, or the simulator's seed plus a file upload.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devhost.services import Simulator
from shared.erp import mapping
from shared.erp.outbox import AcumaticaOutbox
from shared.erp.outbox_memory import InMemoryOutbox
from shared.erp.session import AcumaticaSession
from shared.errors import ValidationFailed
from shared.ports import AttachmentContent, OutboxGateway, OutgoingMail
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import admin, plain_client, reset_simulator

ACCOUNT, OTHER = 3, 4
E = "/entity/Default/24.200.001/Email"


@dataclasses.dataclass
class Harness:
    outbox: OutboxGateway
    session: AcumaticaSession | None = None
    base_url: str = ""

    async def queue(self, subject: str, *, account: int = ACCOUNT, to: tuple[str, ...] = ("carol@customer.test",),
                    parent: str | None = None, files: tuple[AttachmentContent, ...] = ()) -> str:
        if isinstance(self.outbox, InMemoryOutbox):
            mail = OutgoingMail(id=f"id-{len(self.outbox.mails) + 1}", account_id=account, status="",
                                subject=subject, body="<p>Hi</p>", to=to, parent_id=parent,
                                created_at=datetime.now(UTC) + timedelta(seconds=len(self.outbox.mails)))
            return self.outbox.queue(mail, files).id
        assert self.session is not None
        values: dict[str, Any] = {"Subject": subject, "Body": "<p>Hi</p>", "To": mapping.join_addresses(to),
                                  "MailStatus": "Pending Processing", "FromEmailAccountID": account,
                                  "Incoming": False, **({"Parent": parent} if parent else {})}
        made = await admin(self.base_url, "POST", "seed", {"Email": [mapping.wrap(values)]})
        note_id = str(made["Email"][0]["id"])
        for file in files:
            await self.session.request("PUT", f"{E}/{note_id}/files/{file.meta.name}", content=file.content,
                                       headers={"Content-Type": "application/octet-stream"})
        return note_id

    async def incoming(self, message_id: str) -> str:
        """An incoming e-mail filed with its Message-ID (as the system-mailbox intake files one)."""
        if isinstance(self.outbox, InMemoryOutbox):
            self.outbox.parents["in-1"] = message_id
            return "in-1"
        body = mapping.wrap({"Subject": "Printer broken", "Incoming": True, "MailStatus": "Processed"})
        body["note"] = {"value": mapping.note_with_meta(None, message_id=message_id)}
        made = await admin(self.base_url, "POST", "seed", {"Email": [body]})
        return str(made["Email"][0]["id"])


@pytest.fixture(params=["memory", "acumatica"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield Harness(InMemoryOutbox())
        return
    sim: Simulator = request.getfixturevalue("acumatica_sim")
    await reset_simulator(sim.base_url)
    await admin(sim.base_url, "POST", "email-accounts", [
        {"id": ACCOUNT, "address": "billing@contoso.test"}, {"id": OTHER, "address": "sales@contoso.test"}])
    client = plain_client()
    session = AcumaticaSession(sim.base_url, username="admin", password="setup", tenant="Company", http_client=client)
    try:
        yield Harness(AcumaticaOutbox(session), session, sim.base_url)
    finally:
        await session.aclose()
        await client.aclose()


def file(name: str, size: int) -> AttachmentContent:
    content = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    return AttachmentContent(mapping.attachment_meta(name, content), content)


async def test_pending_lists_the_accounts_queue_oldest_first(harness: Harness) -> None:
    first = await harness.queue("Invoice 1")
    second = await harness.queue("Invoice 2", to=("a@customer.test", "b@customer.test"))
    await harness.queue("Offer", account=OTHER)
    mails = await harness.outbox.pending(ACCOUNT, 10)
    assert [m.id for m in mails] == [first, second]
    assert mails[1].to == ("a@customer.test", "b@customer.test") and mails[1].account_id == ACCOUNT
    assert mails[0].subject == "Invoice 1" and mails[0].owner is None
    assert [m.id for m in await harness.outbox.pending(ACCOUNT, 1)] == [first]


async def test_processed_leaves_the_queue_and_never_returns(harness: Harness) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    mail = await harness.queue("Invoice 1")
    await harness.outbox.mark_processed(mail)
    assert await harness.outbox.pending(ACCOUNT, 10) == []
    got = await harness.outbox.get_outgoing(mail)
    assert got is not None and got.status == "Processed"
    assert await harness.outbox.processed_since(ACCOUNT, since) == [mail]
    with pytest.raises(ValidationFailed):
        await harness.outbox.mark_failed(mail, "too late")


async def test_failed_carries_the_reason(harness: Harness) -> None:
    mail = await harness.queue("Invoice 1")
    await harness.outbox.mark_failed(mail, "an attachment is 151.0 MB; the limit is 150 MB")
    got = await harness.outbox.get_outgoing(mail)
    assert got is not None and got.status == "Failed"
    if isinstance(harness.outbox, AcumaticaOutbox):
        assert harness.session is not None
        row = (await harness.session.request("GET", f"{E}/{mail}")).json()
        assert "the limit is 150 MB" in mapping.note_text(row)
    else:
        assert "150 MB" in harness.outbox.reasons[mail]


async def test_files_and_the_parent_message_id(harness: Harness) -> None:
    parent = await harness.incoming("<m1@customer.test>")
    mail = await harness.queue("RE: Printer broken", parent=parent, files=(file("invoice.pdf", 5000),))
    got = await harness.outbox.get_outgoing(mail)
    assert got is not None and got.parent_id == parent
    assert await harness.outbox.parent_message_id(parent) == "<m1@customer.test>"
    assert await harness.outbox.parent_message_id(mail) is None
    files = await harness.outbox.read_files(mail)
    assert [(f.meta.name, len(f.content)) for f in files] == [("invoice.pdf", 5000)]
