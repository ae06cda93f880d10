"""Hostile record content through both simulators: the engine with the real Graph gateway (msgraph-sdk)
against the Graph simulator, the real Acumatica gateway against the Acumatica simulator, state on
Azurite. Big bodies, control characters, RTL overrides, a crowd of attendees, emoji categories, Graph
ids holding ``/#?\\`` and an ERP owner key holding them too: each record syncs or is skipped with a log
line, the run never crashes, and a second run reads the state back and doubles nothing.

The lean variant (1 MB bodies, 500 attendees) runs always; the full one (10 MB, 5,000) under ``slow``.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from devhost.services import Simulator
from shared.domain.config import Mailbox
from shared.domain.records import Attendee, Contact, Event, RecordType, Task
from shared.domain.status import LogEntry, RunState, RunSummary
from tests.erp.harness import admin as erp_admin
from tests.graph.simulator import admin as graph_admin
from tests.graph.simulator import graph_simulator
from tests.hostile.test_hostile_content import accounted_for
from tests.integration.test_engine_http import MAILBOX, T0, World

C, E, T = RecordType.CONTACT, RecordType.EVENT, RecordType.TASK
CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
RTL = "\u202egnp.exe\u202c"
EMOJI = "🦄 ERP 🇺🇦"
MARKS = "/#?\\"
OWNER = "EP/#?\\9"  # an ERP key holding the characters a URL reserves


@dataclasses.dataclass(frozen=True)
class Size:
    body: int
    attendees: int


LEAN, FULL = Size(1024 * 1024, 500), Size(10 * 1024 * 1024, 5000)


async def _log(world: World) -> list[str]:
    page = await world.state.list_log(MAILBOX, None, 1000, None)
    return [e.message for e in page.items if isinstance(e, LogEntry)]


def _ok(summary: RunSummary) -> None:
    assert summary.state in (RunState.SUCCEEDED, RunState.WARNING), summary


async def _seed(world: World, erp_url: str, size: Size) -> dict[str, Contact]:
    await erp_admin(erp_url, "POST", "seed", {"Employee": [
        {"EmployeeID": {"value": OWNER}, "EmployeeName": {"value": "Hostile Key"},
         "ContactInfo": {"Email": {"value": MAILBOX}}}]})
    world.mailbox = Mailbox(email=MAILBOX, server="s1", employee_id=OWNER)
    erp_side = {
        "huge@example.com": Contact(first_name="Huge", last_name="Notes", email="huge@example.com",
                                    notes="x" * size.body),
        "ctrl@example.com": Contact(first_name=f"Ctl{CONTROL}", last_name="Chars", email="ctrl@example.com"),
        "rtl@example.com": Contact(first_name=RTL, last_name=f"x{RTL}", email="rtl@example.com",
                                   company=f"Ünïcødé 𝔘 {MARKS} GmbH"),
    }
    for record in erp_side.values():
        await world.erp.create(C, record, owner=OWNER)
    graph_admin(graph_simulator(), "POST", "/_sim/ids", {"marks": MARKS})  # every new Graph id holds them
    crowd = tuple(Attendee(f"guest{i}@example.com", f"Guest {i}") for i in range(size.attendees))
    await world.user_mailbox_create(E, Event(subject=f"Town hall {EMOJI}", body="y" * size.body, start=T0,
                                             end=T0 + timedelta(hours=1), organizer=MAILBOX, attendees=crowd))
    await world.user_mailbox_create(T, Task(title=f"Call {RTL}{CONTROL}", body="\x00" * 10))
    emoji_id = await world.user_mailbox_create(C, Contact(first_name="Emoji", last_name=EMOJI,
                                                          email="emoji@example.com"))
    assert MARKS in emoji_id
    return erp_side


async def _hostile_round_trip(world: World, erp_url: str, size: Size) -> None:
    erp_side = await _seed(world, erp_url, size)
    await _tag_emoji_categories(world)
    first = await world.run(C, E, T)
    _ok(first)
    in_mailbox = {i.record.email for i in await world.mailbox_items(C)}
    in_erp: dict[str, Any] = {i.record.email: i for i in await world.erp_items(C)}
    log = await _log(world)
    for email in [*erp_side, "emoji@example.com"]:
        assert accounted_for(email, email in in_mailbox and email in in_erp, log), (email, log[:20])
    events = await world.erp_items(E)
    assert len(events) <= 1 and all(len(i.record.attendees) <= size.attendees for i in events)
    assert len(await world.erp_items(T)) <= 1

    second = await world.run(C, E, T)  # the state the first run wrote reads back; nothing doubles
    _ok(second)
    assert {i.record.email for i in await world.mailbox_items(C)} == in_mailbox
    assert sorted(i.record.email for i in await world.erp_items(C)) == sorted(in_erp)
    assert len(await world.erp_items(E)) == len(events)
    assert len(await world.mailbox_items(E)) == 1 and len(await world.mailbox_items(T)) == 1


async def _tag_emoji_categories(world: World) -> None:
    """The user files the contact under emoji categories too (besides the policy's)."""
    from shared.ports import MailboxWrite, WriteKind

    [item] = [i for i in await world.mailbox_items(C) if i.record.email == "emoji@example.com"]
    categories = (world.policy.category.name, EMOJI, "🔥" * 40)
    [result] = await world.mailbox_gateway.apply(MAILBOX, [MailboxWrite(
        WriteKind.UPDATE, C, await world.container(C), item_id=item.id, etag=item.etag, categories=categories)])
    assert result.ok, result.error


async def test_hostile_content_through_both_simulators(world: World, acumatica_sim: Simulator) -> None:
    await _hostile_round_trip(world, acumatica_sim.base_url, LEAN)


@pytest.mark.slow
async def test_hostile_content_through_both_simulators_full_size(world: World, acumatica_sim: Simulator) -> None:
    await _hostile_round_trip(world, acumatica_sim.base_url, FULL)
