"""Fixtures for the engine's unit tests."""

from __future__ import annotations

import pytest

from shared.domain.config import ServerConfig, SyncPolicy
from tests.unit.sync.harness import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness(SyncPolicy(name="default"), ServerConfig(name="s1", update_batch_size=3, select_batch_size=4))
