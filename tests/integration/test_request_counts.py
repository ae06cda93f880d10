"""Request counts of the idle cycle and of the 1 % cycle, from the simulators' journals and the
Azure SDK transport meter (no mocks): the worker runs on Azurite, the Graph simulator and the
Acumatica simulator exactly as ``make bench`` does.

The idle tenant's ERP count (the tenant-wide change feed: one listing per record type per cycle,
none per mailbox) is checked for 1 and 3 mailboxes. Each ceiling is the count measured when this
test was written, so a change that adds requests fails here; the target beside it is the one
``docs/benchmarks.md`` reports against. Tightening a ceiling after an improvement is one edit in
``CEILINGS``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import scenarios
from bench.stack import Profile
from devhost.services import Simulator
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import reset_simulator
from tests.graph.simulator import fresh, graph_simulator

# (figure, service): (ceiling = today's count, target)
CEILINGS: dict[tuple[str, str], tuple[int, int]] = {
    ("idle", "graph"): (4, 4),
    ("idle", "erp"): (4, 4),
    # the idle cycle includes the tenant ERP feed's read (the configuration in one query, the
    # watermarks): a one-mailbox tenant pays it alone; the run reads its configuration, waiting
    # document, status and cursor book, and writes the take, the status and the last look
    ("idle", "table"): (9, 10),
    # a scheduled cycle over an idle tenant: the ERP feed's one listing per record type, 0 per mailbox
    ("tenant", "erp"): (4, 4),
    # 100 contacts, 1 changed on each side: per changed item the target is 1.1 Graph / 1.1 ERP
    ("one_percent", "graph"): (3, 2),
    ("one_percent", "erp"): (3, 2),
    # a mailbox listing the ERP itself with the feed on asks whether the feed exists (hand-over);
    # the changed items' links are read and written, the cursor book moves
    ("one_percent", "table"): (15, 10),
}
# Counts do not depend on latency or the throttle model: the test runs without them.
UNTIMED = Profile(graph_latency_ms=0, erp_latency_ms=0, table_latency_ms=0, graph_time_scale=1.0,
                  graph_rate_limit=10_000)


@pytest.fixture
async def env(acumatica_sim: Simulator, azurite_connection_string: str) -> scenarios.Env:  # noqa: F811
    graph = graph_simulator()
    fresh(graph)
    await reset_simulator(acumatica_sim.base_url)
    return scenarios.Env(graph.base_url, acumatica_sim.base_url, azurite_connection_string, UNTIMED)


def within(figure: str, counts: dict[str, Any]) -> list[str]:
    over = []
    for (name, service), (ceiling, target) in CEILINGS.items():
        if name == figure and counts[service] > ceiling:
            over.append(f"{figure} {service}: {counts[service]} requests > {ceiling} (target {target}); "
                        f"by kind: {counts['detail'][service]}")
    return over


async def test_idle_cycle_request_counts(env: scenarios.Env) -> None:
    result = await scenarios.idle_cycle(env)
    counts = result["counts"]
    assert counts["graph"] > 0 and counts["erp"] > 0 and counts["table"] > 0  # the meters see the cycle
    assert within("idle", counts) == []


async def test_one_percent_cycle_request_counts(env: scenarios.Env) -> None:
    result = await scenarios.export_then_one_percent(env, 100)
    assert result["export"]["writes"] == 100
    one = result["one_percent"]
    assert one["changed_per_side"] == 1 and one["writes"] == 2   # one edit carried each way
    assert within("one_percent", one["counts"]) == []


async def test_idle_tenant_erp_requests_do_not_grow_with_the_mailboxes(env: scenarios.Env) -> None:
    by_size = await scenarios.idle_tenant(env, (1, 3))
    for size, counts in by_size.items():
        assert counts["graph"] > 0 and counts["table"] > 0, size  # the meters see every mailbox's run
        assert within("tenant", {**counts, "detail": {"erp": counts["erp_detail"]}}) == [], size
    assert by_size["3"]["erp"] == by_size["1"]["erp"]   # 0 ERP requests per added idle mailbox
