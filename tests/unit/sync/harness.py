"""A mailbox, an ERP and a state store in memory, wired to the engine (shared by unit and property tests)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.domain.records import Record, RecordType
from shared.domain.status import RunSummary
from shared.erp.memory import InMemoryErpGateway
from shared.graph.memory import InMemoryMailboxGateway, TickingClock
from shared.ports import ErpItem, MailboxItem
from shared.state.memory import InMemoryStateStore
from shared.sync.run import container_name
from tests.engine import sync_mailbox

EMAIL = "ann@contoso.com"
EMPLOYEE = "EP0001"


@dataclasses.dataclass
class Harness:
    policy: SyncPolicy
    server: ServerConfig
    mailbox: Mailbox = dataclasses.field(default_factory=lambda: Mailbox(email=EMAIL, server="s1",
                                                                         employee_id=EMPLOYEE))
    clock: TickingClock = dataclasses.field(default_factory=TickingClock)
    mbx: InMemoryMailboxGateway = dataclasses.field(init=False)
    erp: InMemoryErpGateway = dataclasses.field(init=False)
    state: InMemoryStateStore = dataclasses.field(init=False)
    runs: itertools.count[int] = dataclasses.field(default_factory=itertools.count)
    feed: bool = False
    """Runs follow the tenant ERP feed (:mod:`shared.sync.feed`) once their own listing handed over."""

    def __post_init__(self) -> None:
        self.mbx = InMemoryMailboxGateway(self.clock)
        self.erp = InMemoryErpGateway(self.clock)
        self.state = InMemoryStateStore(self.clock)

    async def run(self, *types: RecordType) -> RunSummary:
        return await sync_mailbox(mailbox=self.mailbox, server=self.server, policy=self.policy,
                                  mailbox_gateway=self.mbx, erp_gateway=self.erp, state=self.state,
                                  clock=self.clock, run_id=f"run{next(self.runs)}",
                                  record_types=types or None, feed=self.feed)

    def container(self, record_type: RecordType) -> str:
        return self.mbx.container_id(EMAIL, record_type, container_name(self.policy, record_type))

    def mailbox_items(self, record_type: RecordType) -> list[MailboxItem[Any]]:
        return self.mbx.items(EMAIL, record_type, self.container(record_type))

    def erp_items(self, record_type: RecordType) -> list[ErpItem[Any]]:
        return self.erp.items(record_type)

    def user_mailbox_create(self, record_type: RecordType, record: Record, *, tagged: bool = True) -> str:
        cats = (self.policy.category.name,) if tagged else ()
        return self.mbx.user_create(EMAIL, record_type, self.container(record_type), record, categories=cats)

    def user_erp_create(self, record_type: RecordType, record: Record, **kw: Any) -> str:
        kw.setdefault("owner", EMPLOYEE)
        return self.erp.user_create(record_type, record, **kw)


class Crash(Exception):
    """The worker process dies (not an ExsyncError: nothing in the engine catches it)."""


def crash_after_writes(gateway: Any, k: int) -> Callable[[], None]:
    """The process dies right after the batch holding the k-th write succeeded (before bookkeeping).

    Returns a function that disarms the crash if it has not happened yet.
    """
    original = gateway.apply
    done = 0

    async def apply(*args: Any) -> Any:
        nonlocal done
        results = await original(*args)
        done += len(results)
        if done >= k:
            gateway.apply = original
            raise Crash()
        return results

    gateway.apply = apply
    return lambda: setattr(gateway, "apply", original)


def hashes(items: list[Any]) -> list[str]:
    return sorted(i.record.content_hash() for i in items)
