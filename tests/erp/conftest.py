"""Fixtures for ERP adapter tests: one Acumatica simulator per session, reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from devhost.services import Simulator
from tests.erp.harness import AcumaticaHarness, PushReceiver, acumatica_simulator, push_receiver, reset_simulator


@pytest.fixture(scope="session")
def acumatica_sim() -> Iterator[Simulator]:
    with acumatica_simulator() as sim:
        yield sim


@pytest.fixture
async def acumatica_url(acumatica_sim: Simulator) -> str:
    await reset_simulator(acumatica_sim.base_url)
    return acumatica_sim.base_url


@pytest.fixture
async def receiver(acumatica_url: str) -> AsyncIterator[PushReceiver]:
    async with push_receiver(acumatica_url) as rec:
        yield rec


@pytest.fixture
async def acumatica(acumatica_url: str, receiver: PushReceiver) -> AsyncIterator[AcumaticaHarness]:
    harness = AcumaticaHarness(acumatica_url, receiver)
    try:
        yield harness
    finally:
        await harness.aclose()
