"""SystemMailGateway contract: the in-memory twin and the Graph adapter (simulator over HTTP) agree."""

from __future__ import annotations

import dataclasses
import email.policy
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from kiota_http.middleware.options import RetryHandlerOption

from shared.graph.client import GraphHttp
from shared.graph.system_mail import GraphSystemMail
from shared.graph.system_mail_memory import InMemorySystemMail
from shared.ports import InboxMessage, SystemMailGateway
from tests.graph.simulator import admin, fresh, graph_simulator

BOX = "ann@contoso.test"


@dataclasses.dataclass
class Harness:
    gateway: SystemMailGateway
    deliver: Callable[[str, dict[str, str], str], str]   # subject, headers, message-id -> Graph id
    sent: Callable[[], list[dict[str, str]]]            # headers (lower-case) of what was sent
    deny: Callable[[], None]


@pytest.fixture(params=["memory", "graph"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        twin = InMemorySystemMail()

        def deliver(subject: str, headers: dict[str, str], message_id: str) -> str:
            item = InboxMessage("", message_id, "conv", subject, "carol@customer.test", "Carol", (BOX,), (), "body",
                                datetime.now(UTC), {k.lower(): v for k, v in headers.items()})
            return twin.deliver(BOX, item).id

        yield Harness(twin, deliver, lambda: twin.sent.get(BOX, []), lambda: twin.denied.add(BOX))
        return
    sim = graph_simulator()
    fresh(sim)
    http = GraphHttp(None, f"{sim.base_url}/v1.0", retry=RetryHandlerOption(delay=0, max_retries=1))

    def deliver_sim(subject: str, headers: dict[str, str], message_id: str) -> str:
        got = admin(sim, "POST", "/_sim/deliver", {"to": BOX, "from": "carol@customer.test", "fromName": "Carol",
                                                   "subject": subject, "body": "body", "headers": headers,
                                                   "internetMessageId": message_id})
        return str(got["id"])

    def sent_sim() -> list[dict[str, str]]:
        import httpx
        rows = httpx.get(f"{sim.base_url}/v1.0/users/{BOX}/mailFolders/sentitems/messages",
                         params={"$select": "internetMessageHeaders"}, headers={"Authorization": "Bearer t"}).json()
        return [{h["name"].lower(): h["value"] for h in r.get("internetMessageHeaders") or []} for r in rows["value"]]

    try:
        yield Harness(GraphSystemMail(http), deliver_sim, sent_sim,
                      lambda: admin(sim, "POST", "/_sim/scope", {"mailboxes": []}))
    finally:
        admin(sim, "POST", "/_sim/scope", {"mailboxes": None})
        await http.aclose()


async def _all(gateway: SystemMailGateway, cursor: str | None = None) -> tuple[list[InboxMessage], str | None]:
    out: list[InboxMessage] = []
    while True:
        page = await gateway.inbox_changes(BOX, cursor, 2)
        out.extend(m for m in page.items if isinstance(m, InboxMessage))
        cursor = page.cursor
        if page.complete:
            return out, cursor


async def test_inbox_changes_carry_headers_and_resume(harness: Harness) -> None:
    first = harness.deliver("one", {"Auto-Submitted": "auto-replied"}, "<one@customer.test>")
    harness.deliver("two", {"In-Reply-To": "<x@y>"}, "<two@customer.test>")
    harness.deliver("three", {}, "<three@customer.test>")
    rows, cursor = await _all(harness.gateway)
    assert sorted(m.subject for m in rows) == ["one", "three", "two"]
    by_subject = {m.subject: m for m in rows}
    assert by_subject["one"].headers["auto-submitted"] == "auto-replied"
    assert by_subject["two"].headers["in-reply-to"] == "<x@y>"
    assert by_subject["one"].internet_message_id == "<one@customer.test>" and by_subject["one"].id == first
    assert by_subject["one"].sender == "carol@customer.test" and by_subject["one"].stamp is None
    harness.deliver("four", {}, "<four@customer.test>")
    later, _ = await _all(harness.gateway, cursor)
    assert [m.subject for m in later] == ["four"]
    recent = await harness.gateway.recent(BOX, 2)
    assert len(recent) == 2 and {m.subject for m in recent} <= {"one", "two", "three", "four"}


async def test_stamp_after_processing_and_send(harness: Harness) -> None:
    ident = harness.deliver("one", {}, "<one@customer.test>")
    await harness.gateway.stamp(BOX, ident, "erp-note-id")
    got = await harness.gateway.get_message(BOX, ident)
    assert got is not None and got.stamp == "erp-note-id"
    await harness.gateway.after_processing(BOX, ident, "mark_read", None)
    await harness.gateway.after_processing(BOX, ident, "move", "Processed")
    assert all(m.id != ident for m in await harness.gateway.recent(BOX, 10))
    mime = EmailMessage(policy=email.policy.SMTP)
    mime["From"], mime["To"], mime["Subject"] = BOX, "carol@customer.test", "RE: one"
    mime["In-Reply-To"], mime["Auto-Submitted"] = "<one@customer.test>", "auto-generated"
    mime.set_content("thanks")
    await harness.gateway.send_mime(BOX, mime.as_bytes())
    [sent] = harness.sent()
    assert sent["in-reply-to"] == "<one@customer.test>" and sent["auto-submitted"] == "auto-generated"


async def test_check_reports_the_scope(harness: Harness) -> None:
    assert all(f["ok"] for f in await harness.gateway.check(BOX))
    harness.deny()
    failed: list[Any] = [f["check"] for f in await harness.gateway.check(BOX) if not f["ok"]]
    assert failed == ["inbox readable", "can write messages"]
