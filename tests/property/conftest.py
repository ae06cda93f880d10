"""Hypothesis profiles for the property tests.

- ``ci`` (default, and whenever ``CI`` is set): 500 examples of short programs, a couple of
  minutes at most on two cores.
- ``thorough``: 10,000 examples of longer programs; select it with ``HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
           "print_blob": True}

settings.register_profile("ci", max_examples=500, stateful_step_count=20, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("thorough", max_examples=10_000, stateful_step_count=30,
                          **_COMMON)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=50, stateful_step_count=12, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The thorough profile runs far longer than the suite-wide per-test timeout: lift it."""
    if settings.default.max_examples >= 10_000:
        for item in items:
            item.add_marker(pytest.mark.timeout(0))
