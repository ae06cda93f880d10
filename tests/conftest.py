"""Session-wide fixtures: Azurite (started here, stopped by PID) and the simulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devhost.services import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite_service() -> Iterator[Azurite]:
    """Azurite table + queue in memory on free loopback ports, for the whole test session."""
    service = start_azurite()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def azurite_connection_string(azurite_service: Azurite) -> str:
    """Connection string of the session's Azurite (tables and queues)."""
    return azurite_service.connection_string
