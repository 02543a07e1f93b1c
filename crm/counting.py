"""Counts that never run unbounded: the planner's estimate first, an exact count only when cheap.

A list answer carries `{"value", "exact"}`. One EXPLAIN (no execution) gives the estimated rows,
the plan's cost and the cost of its costliest sequential scan; past any of the limits below, the
estimate is the answer, inexact. Otherwise a count of at most cap + 1 rows runs under a statement
timeout: within the cap it is exact; past it, the larger of it and the estimate, inexact (never
an estimate known to be too low); past the timeout, the estimate. Why each limit has its value:
docs/ARCHITECTURE.md, "Bounded counts"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.utils import OperationalError

from crm.session_settings import settings_for_block, statement_timed_out

EXACT_COUNT_TIMEOUT_MS = 200
# Past this many rows a list shows the planner's estimate: counting further costs time in
# proportion to the rows, and nobody pages through "about 600,000" contacts one by one.
EXACT_COUNT_CAP = 10_000
# The exact count is tried when the estimate is at most CAP * ESTIMATE_MARGIN: the margin
# absorbs the planner's usual over-estimates, so a count just past the cap is not paid for
ESTIMATE_MARGIN = 1.1
# and the plan costs at most this many of the planner's units (a count costing more reads most
# of a large tenant and would only run into the timeout)
EXACT_COUNT_MAX_COST = 100_000.0
# and no sequential scan in it costs more than this, counted as one process would scan (a scan's
# cost grows with the table, not with the filter).
EXACT_COUNT_MAX_SCAN_COST = 50_000.0


@dataclass(frozen=True)
class BoundedCount:
    value: int
    exact: bool

    def at_least(self, seen: int) -> BoundedCount:
        """This count, an estimate raised to SEEN when below it (an exact count stands)."""
        if self.exact or self.value >= seen:
            return self
        return BoundedCount(value=seen, exact=False)


@dataclass(frozen=True)
class CountPlan:
    """What one EXPLAIN of a queryset's ids says: the rows the planner expects, the plan's
    total cost, and the cost of its costliest sequential scan (0 when it has none)."""

    rows: int
    cost: float
    scan_cost: float

    @property
    def indexed(self) -> bool:
        """Whether the plan reads the rows through indexes: no sequential scan past the limit
        (a scan's cost grows with the table, not with the rows it finds)."""
        return self.scan_cost <= EXACT_COUNT_MAX_SCAN_COST


def count_plan(queryset: QuerySet[Any]) -> CountPlan:
    """The planner's view of counting QUERYSET (EXPLAIN, no execution)."""
    return CountPlan(*_planned(queryset))


def count_bounded(
    queryset: QuerySet[Any],
    *,
    timeout_ms: int = EXACT_COUNT_TIMEOUT_MS,
    cap: int = EXACT_COUNT_CAP,
    seen: int = 0,
    planned: CountPlan | None = None,
) -> BoundedCount:
    """The exact count when the planner expects at most about CAP rows at a cost that fits
    TIMEOUT_MS, and the count finds at most CAP within it; else an estimate marked inexact,
    never below a count seen: the rows counted, or SEEN, the rows the caller already knows
    match (a page's rows and the one after them). PLANNED: the caller's count_plan of the
    same queryset, when it already has one."""
    plan = planned or count_plan(queryset)
    estimate = BoundedCount(value=plan.rows, exact=False).at_least(seen)
    if plan.rows > cap * ESTIMATE_MARGIN or plan.cost > EXACT_COUNT_MAX_COST or not plan.indexed:
        return estimate
    try:
        with settings_for_block({"statement_timeout": str(int(timeout_ms))}, using=queryset.db):
            # No ORDER BY: a count needs no order, and the default one forces a sort.
            counted = queryset.order_by().values("pk")[: cap + 1].count()
    except OperationalError as error:
        if not statement_timed_out(error):
            raise
        return estimate
    if counted <= cap:
        return BoundedCount(value=counted, exact=True)
    return BoundedCount(value=max(estimate.value, counted), exact=False)


def count_estimate(queryset: QuerySet[Any]) -> int:
    """The planner's row estimate for QUERYSET (EXPLAIN, no execution); 0 when it matches
    nothing by construction (an empty `in` list, `.none()`)."""
    return count_plan(queryset).rows


def _planned(queryset: QuerySet[Any]) -> tuple[int, float, float]:
    """The planner's rows and total cost for QUERYSET's ids, unordered (EXPLAIN), and the cost
    of its costliest sequential scan (0 when it has none)."""
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return 0, 0.0, 0.0
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    top = plan[0]["Plan"]
    return int(top["Plan Rows"]), float(top["Total Cost"]), _costliest_scan(top)


def _costliest_scan(node: dict[str, Any], divisor: float = 1.0) -> float:
    """The highest total cost of a sequential scan in the plan tree NODE, a parallel scan's
    cost (one participant's share) multiplied back by the divisor of its Gather."""
    workers = node.get("Workers Planned")
    if workers is not None:
        divisor = _parallel_divisor(int(workers))
    own = 0.0
    if node.get("Node Type") == "Seq Scan":
        own = float(node["Total Cost"]) * (divisor if node.get("Parallel Aware") else 1.0)
    return max([own, *(_costliest_scan(child, divisor) for child in node.get("Plans", []))])


def _parallel_divisor(workers: int) -> float:
    """PostgreSQL's share of a parallel plan's rows per participant (costsize.c): the workers,
    plus what is left of the leader after it serves them (30 % of its time each)."""
    return workers + max(0.0, 1.0 - 0.3 * workers)
