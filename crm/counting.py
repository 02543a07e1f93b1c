"""Counts that never run unbounded (ARCHITECTURE rule 6)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.db.utils import OperationalError

EXACT_COUNT_TIMEOUT_MS = 200


@dataclass(frozen=True)
class BoundedCount:
    value: int
    exact: bool


def count_bounded(
    queryset: QuerySet[Any], *, timeout_ms: int = EXACT_COUNT_TIMEOUT_MS
) -> BoundedCount:
    """The exact count when it finishes within TIMEOUT_MS, else the planner's estimate."""
    alias = queryset.db
    try:
        with transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [str(int(timeout_ms))]
                )
            return BoundedCount(value=queryset.count(), exact=True)
    except OperationalError as error:
        if "statement timeout" not in str(error):
            raise
    return BoundedCount(value=count_estimate(queryset), exact=False)


def count_estimate(queryset: QuerySet[Any]) -> int:
    """The planner's row estimate for QUERYSET (EXPLAIN, no execution)."""
    sql, params = queryset.values("pk").query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
