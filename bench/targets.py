"""The performance targets and how each figure is read out of a benchmark result.

One :class:`Figure` per cell of the table in ``docs/benchmarks.md``: where the value sits in the
result (a path of keys), the target, and the comparison. A figure whose row was not run, or
that the benchmark cannot measure, is reported as such rather than as met.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Figure:
    row: str
    label: str
    path: tuple[str, ...]
    target: float
    compare: str            # "<=", "<", ">="
    unit: str = ""
    note: str = ""

    def value(self, results: dict[str, Any]) -> float | None:
        node: Any = results
        for key in self.path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return float(node) if isinstance(node, int | float) else None

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        ops: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge}
        return ops[self.compare](value, self.target)

    @property
    def target_text(self) -> str:
        symbol = {"<=": "≤", "<": "<", ">=": "≥"}[self.compare]
        return f"{symbol} {self.target:g}{self.unit}"


FIGURES: tuple[Figure, ...] = (
    Figure("idle", "idle cycle, one mailbox, all four types: Graph requests", ("idle", "counts", "graph"), 4, "<="),
    Figure("idle", "idle cycle: ERP requests", ("idle", "counts", "erp"), 4, "<="),
    Figure("idle", "idle cycle: Table Storage requests", ("idle", "counts", "table"), 10, "<="),
    Figure("export", "initial export into an empty mailbox: wall ÷ throttle floor",
           ("export", "export", "wall_over_floor"), 1.25, "<="),
    Figure("export", "initial export: Graph requests per item", ("export", "export", "graph_per_item"), 1.05, "<="),
    Figure("export", "1 % changed on each side: Graph requests per changed item",
           ("export", "one_percent", "graph_per_changed"), 1.1, "<="),
    Figure("export", "1 % changed on each side: ERP requests per changed item",
           ("export", "one_percent", "erp_per_changed"), 1.1, "<="),
    Figure("import", "initial import, mailbox contacts → ERP: items per second", ("import", "items_per_s"), 60, ">="),
    Figure("import", "initial import: ERP requests per item", ("import", "erp_per_item"), 1.1, "<="),
    Figure("import", "initial import: peak RSS", ("import", "rss_peak_mb"), 300, "<", " MB"),
    Figure("push", "push: mail in a synced folder → ERP activity, p95", ("push", "p95_s"), 2, "<", " s"),
    Figure("tenant", "idle tenant: ERP requests per cycle added by each idle mailbox",
           ("tenant", "erp_per_added_mailbox"), 0, "<=", "",
           "O(1): one listing per type per cycle for the whole tenant, 0 per idle mailbox"),
    Figure("fanout", "fan-out right after many ERP contacts changed: per-mailbox cost ÷ a quiet tenant's",
           ("fanout", "cost_ratio_wall"), 1.2, "<="),
)


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for figure in FIGURES:
        value = figure.value(results)
        met = figure.met(value)
        out.append({"row": figure.row, "figure": figure.label, "target": figure.target_text, "value": value,
                    "met": met, "note": figure.note})
    return out
