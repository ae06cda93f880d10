"""The transactional-mail executor over the in-memory twins: pacing, exactly once, failures, suspension."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.erp.outbox_memory import InMemoryOutbox
from shared.errors import RemoteError
from shared.graph.sender_memory import InMemoryMailSender
from shared.mailproc.model import Sending, SystemMailbox
from shared.mailsend.run import MailPorts, SendSettings, send_mailbox
from shared.ports import OutgoingMail
from shared.state.memory import InMemoryStateStore

MAILBOX = "billing@contoso.test"
SYSTEM = SystemMailbox(address=MAILBOX, server="main", sending=Sending(erp_account_id=3))


class FakeClock:
    """Time that moves only when the run sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        self.slept = 0.0

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.at += timedelta(seconds=seconds)


@dataclasses.dataclass
class World:
    clock: FakeClock
    outbox: InMemoryOutbox
    sender: InMemoryMailSender
    ports: MailPorts
    suspend: list[bool]

    def queue(self, n: int, **kw: object) -> list[str]:
        base = len(self.outbox.mails)
        made = [self.outbox.queue(dataclasses.replace(OutgoingMail(
            id=f"e{base + i}", account_id=3, status="", subject=f"Invoice {base + i}", body="Hi",
            to=("carol@customer.test",), created_at=self.clock.at + timedelta(microseconds=base + i)),
            **kw)).id for i in range(n)]  # type: ignore[arg-type]
        return made

    async def run(self, **settings: object) -> dict[str, int]:
        async def suspended() -> bool:
            return self.suspend[0]
        report = await send_mailbox(self.ports, SYSTEM, SendSettings(**settings), suspended)  # type: ignore[arg-type]
        return dict(report.outcomes)

    def statuses(self) -> list[str]:
        return [m.status for m in self.outbox.mails.values()]


@pytest.fixture
def world() -> World:
    clock = FakeClock()
    outbox, sender = InMemoryOutbox(), InMemoryMailSender(clock.now)
    ports = MailPorts(outbox=outbox, sender=sender, docs=InMemoryStateStore(), clock=clock, sleep=clock.sleep)
    return World(clock, outbox, sender, ports, [False])


async def test_paces_at_30_a_minute_and_never_hits_the_limit(world: World) -> None:
    world.queue(65)
    outcomes = await world.run()
    assert outcomes == {"confirm": 65}
    assert set(world.statuses()) == {"Processed"}
    assert [s.message.stamp for s in world.sender.messages(MAILBOX)] == [f"e{i}" for i in range(65)]
    assert world.sender.refusals == 0
    assert world.clock.slept >= 120  # two full minutes of waiting for the 31st and 61st message


async def test_budget_ends_the_run_and_the_rest_stays_queued(world: World) -> None:
    world.queue(40)
    outcomes = await world.run(budget=timedelta(seconds=30))
    assert outcomes["confirm"] == 30 and outcomes["wait"] == 1 and outcomes["queued"] == 9
    assert world.statuses().count("Pending Processing") == 10


async def test_a_lost_answer_is_confirmed_from_sent_items_not_resent(world: World) -> None:
    world.queue(1)
    world.sender.lose_answer = 1
    assert await world.run() == {"wait": 1}
    assert world.statuses() == ["Pending Processing"]
    assert await world.run() == {"confirm": 1}
    assert len(world.sender.messages(MAILBOX)) == 1 and world.statuses() == ["Processed"]


async def test_crash_between_send_and_erp_update(world: World) -> None:
    world.queue(1)
    world.outbox.fail_next_writes = 1
    with pytest.raises(RemoteError):
        await world.run()
    assert len(world.sender.messages(MAILBOX)) == 1 and world.statuses() == ["Pending Processing"]
    assert await world.run() == {"confirm": 1}
    assert len(world.sender.messages(MAILBOX)) == 1 and world.statuses() == ["Processed"]


async def test_fails_with_the_reason_after_the_resend_attempts(world: World) -> None:
    [mail] = world.queue(1)
    world.sender.fail_before_send = 10
    for _ in range(3):
        await world.run()
        world.clock.at += timedelta(minutes=10)  # past the backoff and the settle time
    assert world.statuses() == ["Pending Processing"]
    assert await world.run() == {"fail": 1}
    assert world.statuses() == ["Failed"] and "not sent after 3 attempts" in world.outbox.reasons[mail]
    assert world.sender.drafts[MAILBOX] == [] and world.sender.messages(MAILBOX) == []


async def test_over_500_recipients_fails_at_once(world: World) -> None:
    [mail] = world.queue(1, to=tuple(f"r{i}@customer.test" for i in range(501)))
    assert await world.run() == {"fail": 1}
    assert "501 recipients" in world.outbox.reasons[mail] and world.sender.messages(MAILBOX) == []


async def test_suspend_and_resume(world: World) -> None:
    world.queue(3)
    world.suspend[0] = True
    assert await world.run() == {"wait": 1, "queued": 2}
    assert world.sender.messages(MAILBOX) == [] and set(world.statuses()) == {"Pending Processing"}
    world.suspend[0] = False
    assert await world.run() == {"confirm": 3}
