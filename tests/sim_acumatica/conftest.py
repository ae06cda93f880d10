"""Fixtures for simulator tests: the session's simulator (reset per test) and a raw API client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from devhost.services import Simulator
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import reset_simulator

LOGIN = {"name": "admin", "password": "setup", "tenant": "Company"}
E = "/entity/Default/24.200.001"


@pytest.fixture
async def base_url(acumatica_sim: Simulator) -> str:  # noqa: F811
    await reset_simulator(acumatica_sim.base_url)
    return acumatica_sim.base_url


@pytest.fixture
async def anon(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30, verify=False) as client:
        yield client


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in client (logged out afterwards)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30, verify=False) as client:
        response = await client.post("/entity/auth/login", json=LOGIN)
        assert response.status_code == 204
        yield client
        await client.post("/entity/auth/logout")
