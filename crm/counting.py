"""Counts that never run unbounded (ARCHITECTURE rule 6)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.db.utils import OperationalError

EXACT_COUNT_TIMEOUT_MS = 200
# Past this many rows a list shows the planner's estimate: counting further costs time in
# proportion to the rows, and nobody pages through "about 600,000" contacts one by one.
EXACT_COUNT_CAP = 10_000


@dataclass(frozen=True)
class BoundedCount:
    value: int
    exact: bool


def count_bounded(
    queryset: QuerySet[Any],
    *,
    timeout_ms: int = EXACT_COUNT_TIMEOUT_MS,
    cap: int = EXACT_COUNT_CAP,
) -> BoundedCount:
    """The exact count when it is at most CAP and found within TIMEOUT_MS, else an estimate.

    The exact count reads at most CAP + 1 rows (`SELECT count(*) FROM (… LIMIT cap + 1)`);
    past that, or past the timeout, the planner's estimate stands, marked inexact."""
    alias = queryset.db
    try:
        with transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [str(int(timeout_ms))]
                )
            # No ORDER BY: a count needs no order, and the default one forces a sort.
            counted = queryset.order_by().values("pk")[: cap + 1].count()
        if counted <= cap:
            return BoundedCount(value=counted, exact=True)
    except OperationalError as error:
        if "statement timeout" not in str(error):
            raise
        counted = 0
    return BoundedCount(value=max(count_estimate(queryset), counted), exact=False)


def count_estimate(queryset: QuerySet[Any]) -> int:
    """The planner's row estimate for QUERYSET (EXPLAIN, no execution)."""
    sql, params = queryset.values("pk").query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
