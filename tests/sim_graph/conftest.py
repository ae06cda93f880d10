"""Fixtures for the Graph simulator tests: one simulator for the package (a module may start its own,
e.g. with other flags), reset between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devhost.services import Simulator, start_simulator

A = "a@contoso.test"
B = "b@contoso.test"
AUTH = {"Authorization": "Bearer test-token"}
IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


@pytest.fixture(scope="package")
def simulator() -> Iterator[Simulator]:
    sim = start_simulator("sim.graph", ["--users", f"{A},{B}"])
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def _clients(simulator: Simulator) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with httpx.Client(base_url=f"{simulator.base_url}/v1.0", headers=AUTH, timeout=10) as graph_client, \
            httpx.Client(base_url=f"{simulator.base_url}/_sim", timeout=10) as admin_client:
        yield graph_client, admin_client


@pytest.fixture
def graph(_clients: tuple[httpx.Client, httpx.Client]) -> httpx.Client:
    """An authenticated client on ``/v1.0``; the simulator is reset before each test."""
    _clients[1].post("/reset").raise_for_status()
    return _clients[0]


@pytest.fixture
def admin(_clients: tuple[httpx.Client, httpx.Client]) -> httpx.Client:
    """A client on the ``/_sim`` admin surface."""
    return _clients[1]


def user(path: str = "", upn: str = A) -> str:
    return f"/users/{upn}{path}"


def error_code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["error"]["code"])


def drain(client: httpx.Client, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    """Follow nextLinks to the deltaLink; all rows and the deltaLink."""
    rows: list[dict[str, Any]] = []
    while True:
        response = client.get(url, **kwargs)
        assert response.status_code == 200, response.text
        page = response.json()
        rows.extend(page["value"])
        if "@odata.deltaLink" in page:
            return rows, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]
