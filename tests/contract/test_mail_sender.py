"""MailSender contract: the in-memory twin and the Graph sender (simulator over HTTP) agree.

Sending is findable by the stamp in Sent Items (and only there), a reply goes to the received
message, and a send that failed half-way leaves a stamped draft that ``discard_drafts`` removes.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kiota_http.middleware.options import RetryHandlerOption

from devhost.services import Simulator
from shared.erp import mapping
from shared.errors import ExsyncError
from shared.graph.client import GraphHttp
from shared.graph.sender import STAMP_HEADER, GraphMailSender, mime_bytes
from shared.graph.sender_memory import InMemoryMailSender
from shared.ports import AttachmentContent, MailSender, OutboundMessage
from tests.graph.simulator import admin, fresh, graph_simulator

MAILBOX = "res@contoso.test"
AUTO = (("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All"))


@dataclasses.dataclass
class Harness:
    sender: MailSender
    sim: Simulator | None = None

    def receive(self, message_id: str) -> None:
        if isinstance(self.sender, InMemoryMailSender):
            self.sender.receive(MAILBOX, message_id)
        else:
            assert self.sim is not None
            admin(self.sim, "POST", "/_sim/deliver", {"to": MAILBOX, "from": "carol@customer.test",
                                                     "subject": "Printer broken", "internetMessageId": message_id})

    def fail_next_send(self) -> None:
        if isinstance(self.sender, InMemoryMailSender):
            self.sender.fail_before_send = 1
        else:
            assert self.sim is not None
            admin(self.sim, "POST", "/_sim/faults", {"path": "/send", "method": "POST", "status": 500, "count": 1})

    async def graph_get(self, path: str, params: dict[str, str] | None = None) -> Any:
        assert self.sim is not None
        async with httpx.AsyncClient(base_url=f"{self.sim.base_url}/v1.0/users/{MAILBOX}",
                                     headers={"Authorization": "Bearer t"}) as client:
            return (await client.get(path, params=params)).json()

    async def sent_headers(self, message_id: str) -> dict[str, str]:
        row = await self.graph_get(f"/messages/{message_id}", {"$select": "internetMessageHeaders,subject"})
        return {h["name"].lower(): h["value"] for h in row.get("internetMessageHeaders") or []}


@pytest.fixture(params=["memory", "graph"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield Harness(InMemoryMailSender())
        return
    sim = graph_simulator()
    fresh(sim)
    http = GraphHttp(None, f"{sim.base_url}/v1.0", retry=RetryHandlerOption(delay=0, max_retries=0))
    try:
        yield Harness(GraphMailSender(http), sim)
    finally:
        await http.aclose()


def message(stamp: str, **kw: object) -> OutboundMessage:
    return dataclasses.replace(OutboundMessage(stamp=stamp, subject="Invoice INV-1", body="Dear Carol",
                                               to=("carol@customer.test",)), **kw)  # type: ignore[arg-type]


async def test_a_sent_message_is_found_by_its_stamp(harness: Harness) -> None:
    await harness.sender.send(MAILBOX, message("erp-1"))
    await harness.sender.send(MAILBOX, message("erp-2", mime=True, headers=AUTO))
    first, second = await harness.sender.find_sent(MAILBOX, "erp-1"), await harness.sender.find_sent(MAILBOX, "erp-2")
    assert first and second and first != second
    assert await harness.sender.find_sent(MAILBOX, "erp-3") is None
    if harness.sim is not None:
        headers = await harness.sent_headers(second)
        assert headers["auto-submitted"] == "auto-generated" and headers["x-auto-response-suppress"] == "All"
        assert headers[STAMP_HEADER.lower()] == "erp-2"


async def test_a_reply_answers_the_received_message(harness: Harness) -> None:
    harness.receive("<m1@customer.test>")
    received = await harness.sender.find_received(MAILBOX, "<m1@customer.test>")
    assert received is not None
    assert await harness.sender.find_received(MAILBOX, "<other@customer.test>") is None
    await harness.sender.send(MAILBOX, message("erp-9", reply_to=received, subject="RE: Printer broken"))
    sent = await harness.sender.find_sent(MAILBOX, "erp-9")
    assert sent is not None
    if harness.sim is not None:
        assert (await harness.sent_headers(sent))["in-reply-to"] == "<m1@customer.test>"


async def test_a_failed_send_leaves_a_draft_that_is_discarded(harness: Harness) -> None:
    harness.fail_next_send()
    with pytest.raises(ExsyncError):
        await harness.sender.send(MAILBOX, message("erp-5"))
    assert await harness.sender.find_sent(MAILBOX, "erp-5") is None
    assert await harness.sender.discard_drafts(MAILBOX, "erp-5") == 1
    assert await harness.sender.discard_drafts(MAILBOX, "erp-5") == 0


async def test_attachments_go_with_the_message(harness: Harness) -> None:
    big = b"%PDF" + bytes(4 * 1024 * 1024)
    files = (AttachmentContent(mapping.attachment_meta("invoice.pdf", big), big),)
    await harness.sender.send(MAILBOX, message("erp-7", mime=True, headers=AUTO, files=files))
    sent = await harness.sender.find_sent(MAILBOX, "erp-7")
    assert sent is not None
    if harness.sim is not None:
        journal = admin(harness.sim, "GET", "/_sim/requests")
        paths = [e["path"] for e in journal]
        assert any(p.endswith("/attachments/createUploadSession") for p in paths)
        listed = (await harness.graph_get(f"/messages/{sent}/attachments"))["value"]
        assert [(a["name"], a["size"]) for a in listed] == [("invoice.pdf", len(big))]


def test_mime_form_carries_the_stamp_and_a_message_id_from_it() -> None:
    raw = mime_bytes(MAILBOX, message("erp-1", headers=AUTO, cc=("d@customer.test",)))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed[STAMP_HEADER] == "erp-1" and parsed["Message-ID"] == "<erp-1.exsync@contoso.test>"
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["Cc"] == "d@customer.test"
    assert base64.b64encode(raw)  # what sendMail / POST /messages take
