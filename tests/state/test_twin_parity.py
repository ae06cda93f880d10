"""Differential test: random operation sequences give the same outcomes on the twin and on Azurite.

Each step runs on both stores; the outcome (the value without store-specific etags, or the error
class) must match. Each store's etags are kept side by side, so "stale" means the same version
on both.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.config import SyncPolicy
from shared.domain.records import RecordType
from shared.errors import ExsyncError
from shared.ports import Link, StateStore
from shared.state.memory import InMemoryStateStore
from shared.state.table import TableStateStore

MB = "ann@contoso.com"
CT = RecordType.CONTACT
ERP_IDS = ["E/1", "E#2", "E?3", "E\\4", "E\x015", "E" + "6" * 1200]
MAILBOX_IDS = ["M/1", "M#2", "M?3", "M=4", "M+5", "M" + "6" * 1200]


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def pair(azurite_connection_string: str) -> AsyncIterator[tuple[StateStore, StateStore, Clock]]:
    clock = Clock()
    table = TableStateStore.from_connection_string(azurite_connection_string,
                                                   table_prefix="tp" + uuid.uuid4().hex[:10], clock=clock)
    await table.create_tables()
    try:
        yield InMemoryStateStore(clock), table, clock
    finally:
        await table.delete_tables()
        await table.aclose()


def _plain(value: Any) -> Any:
    """Outcome without etags (they differ between stores by design)."""
    if isinstance(value, Link):
        return dataclasses.replace(value, etag=None)
    if isinstance(value, str) and value.startswith('W/"'):
        return "<etag>"
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


async def _outcome(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except ExsyncError as exc:
        return type(exc)


class Parity:
    """Runs one step on both stores and keeps the versions each store handed out."""

    def __init__(self, twin: StateStore, table: StateStore, rng: random.Random) -> None:
        self.stores = (twin, table)
        self.rng = rng
        self.versions: dict[str, list[tuple[Link, Link]]] = {}
        self.policy_etags: list[tuple[str, str]] = []

    async def both(self, step: Callable[[int, StateStore], Awaitable[Any]]) -> tuple[Any, Any]:
        results = (await _outcome(step(0, self.stores[0])), await _outcome(step(1, self.stores[1])))
        assert _plain(results[0]) == _plain(results[1]), f"twin {results[0]!r} != table {results[1]!r}"
        return results

    def _known(self, erp_id: str) -> tuple[Link, Link] | None:
        history = self.versions.get(erp_id)
        if not history:
            return None
        return history[-1] if self.rng.random() < 0.7 else self.rng.choice(history)

    def _remember(self, results: tuple[Any, Any]) -> None:
        if isinstance(results[0], Link):
            self.versions.setdefault(results[0].erp_id, []).append((results[0], results[1]))

    async def step(self) -> None:
        rng = self.rng
        erp_id, mailbox_id = rng.choice(ERP_IDS), rng.choice(MAILBOX_IDS)
        action = rng.choice(["insert", "update", "update", "delete", "get", "batch", "list", "policy"])
        known = self._known(erp_id)
        if action == "insert" or (action == "update" and known is None):
            new = Link(MB, CT, erp_id, mailbox_id, "v1", "ck1", "h", "h", {"n": rng.randint(0, 9)})
            self._remember(await self.both(lambda _, s: s.put_link(new)))
        elif action == "update" and known is not None:
            changes = {"erp_version": f"v{rng.randint(2, 99)}"}
            if rng.random() < 0.3:
                changes["mailbox_id"] = mailbox_id
            self._remember(await self.both(lambda i, s: s.put_link(dataclasses.replace(known[i], **changes))))
        elif action == "delete":
            target = known or (Link(MB, CT, erp_id, mailbox_id, "", "", "", ""),) * 2
            unconditional = rng.random() < 0.3
            await self.both(lambda i, s: s.delete_link(
                dataclasses.replace(target[i], etag=None) if unconditional else target[i]))
        elif action == "get":
            await self.both(lambda _, s: s.get_link_by_erp(MB, CT, erp_id))
            await self.both(lambda _, s: s.get_link_by_mailbox(MB, CT, mailbox_id))
        elif action == "batch":
            fresh = [Link(MB, CT, e, m, "b", "b", "h", "h") for e, m in
                     zip(rng.sample(ERP_IDS, 2), rng.sample(MAILBOX_IDS, 2), strict=True)]
            results = await self.both(lambda _, s: s.put_links(fresh))
            if isinstance(results[0], list):
                for pair in zip(results[0], results[1], strict=True):
                    self._remember(pair)
        elif action == "list":
            size = rng.randint(1, 4)
            await self.both(lambda _, s: _all_links(s, size))
        else:
            await self._policy_step()

    async def _policy_step(self) -> None:
        etags = self.rng.choice(self.policy_etags) if self.policy_etags and self.rng.random() < 0.8 else None
        policy = SyncPolicy(name="p", description=str(self.rng.randint(0, 9)))
        force = self.rng.random() < 0.1
        results = await self.both(lambda i, s: s.put_policy(policy, None if etags is None else etags[i],
                                                            force=force))
        if isinstance(results[0], str):
            self.policy_etags.append((results[0], results[1]))
        await self.both(lambda _, s: _policy_value(s))


async def _policy_value(store: StateStore) -> SyncPolicy | None:
    stored = await store.get_policy("p")
    return None if stored is None else stored.value


async def _all_links(store: StateStore, size: int) -> list[Link]:
    out: list[Link] = []
    cursor: str | None = None
    while True:
        page = await store.list_links(MB, CT, cursor, size)
        out.extend(item for item in page.items if isinstance(item, Link))
        if page.complete:
            return out
        cursor = page.cursor


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_sequences_agree(pair: tuple[StateStore, StateStore, Clock], seed: int) -> None:
    twin, table, clock = pair
    parity = Parity(twin, table, random.Random(seed))
    for _ in range(60):
        await parity.step()
        clock.at += timedelta(seconds=1)
    assert _plain(await _all_links(twin, 100)) == _plain(await _all_links(table, 100))
