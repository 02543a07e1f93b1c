"""Counts that never run unbounded (ARCHITECTURE rule 6): the planner's estimate first.

A list answer carries `{"value", "exact"}`. The planner's row estimate (one EXPLAIN, no
execution, well under a millisecond) decides whether an exact count is worth trying:

- estimate > EXACT_COUNT_CAP * ESTIMATE_MARGIN: the estimate is the answer, marked inexact,
  and nothing is counted. Counting would read cap + 1 rows (6 to 120 ms on a 600,000-contact
  tenant) only to learn that there are more than the cap;
- the plan's total cost > EXACT_COUNT_MAX_COST, or a sequential scan in it costs more than
  EXACT_COUNT_MAX_SCAN_COST: the same. Such a count reads most of a large tenant and would only
  run into the timeout (below);
- otherwise the capped exact count runs (`SELECT count(*) FROM (… LIMIT cap + 1)`) under a
  statement timeout. At most the cap, it is the answer, exact. Past the cap it proves at least
  cap + 1 rows, so the answer is the larger of that and the estimate, inexact: never an
  estimate known to be too low. Past the timeout, the estimate stands, inexact.

The margin. A wrong estimate costs something in one direction only:
- too low (the planner expects 9,000, 30,000 match): the count runs and stops at the cap, the
  work every count did before the estimate came first, and the answer says at least cap + 1;
- too high (the planner expects 10,500, 9,500 match): the count is skipped and the answer is an
  estimate, close to the truth, where an exact count was within reach.
So the margin guards against over-estimates, and every estimate inside it whose truth is past
the cap pays for a count that only proves so (44 ms for `tags hasAny vip, hasNone withdrawn` on
a 600,000-contact tenant: estimate 12,971, true 12,213). Measured at 1M contacts on 35 filters
the statistics cover (tags, the channel, GIN equality, visit columns, name search, profile
ranges with the expression statistics of profile_schema.indexes), the estimate was 0.77 to 1.33
times the truth; of the 17 with 2,000 to 40,000 matches, 12 were within 0.98 to 1.15, and the
over-estimates beyond were 1.20 to 1.26 (name search, GIN equality, a tag with a visit range).
A margin of 1.1 takes in the usual error and keeps filters whose truth lies a few percent past
the cap from paying for a count; a wider one would buy exact answers just under the cap, where
"about 10,500" says nearly as much, with a count on every request in the band. One kind of
estimate no margin of a useful size covers: equality on a profile key (`profile @> {…}`) is
estimated from a histogram of whole profiles, in steps of about 1 % of the table, and moves
with each ANALYZE's sample (`age = 30`, 5,631 matches, was estimated 4,717 after one ANALYZE
and 14,179 after another, and then answers "about 14,179"). A filter's estimate does not pass
the estimate of its channel's size, which the statistics of channel_id hold closely, so a
channel of at most the cap counts exactly: the demo channel (2,200 contacts) and the tests'
small tables do.

The cost limit. A filter with few matches that no index serves (a range on a key without a
per-key index: `points >= 99,000`, 1,017 of 600,000) is estimated small once its key has
statistics (profile_schema.indexes), but counting it is a scan of the tenant: 590 to 780 ms,
so the count ran into the 200 ms timeout on every request and answered the estimate anyway. The
plan's cost tells these apart before anything runs. Measured at 1M contacts (default cost
settings): every plan of the 600,000-contact tenant that cost 135,000 or more took 590 to 780
ms to count; every one that cost under 55,000 took 1 to 210 ms. EXACT_COUNT_MAX_COST = 100,000
lies between; on a smaller table the same filters cost less and are counted. The timeout stays
as the bound when the cost misleads.

A total cost alone did mislead: on a freshly seeded, unbloated table of 1,000,000 contacts the
same count planned as a parallel sequential scan of the whole table at a cost of 90,878, under
the limit, and ran into the 200 ms timeout on every request (the list answered in 220 ms where
the estimate alone takes 1). A sequential scan reads the whole table whatever the filter, so its
cost is the table's size, not the filter's. A parallel scan's cost is a worker's share: it is
scaled back to the whole scan with PostgreSQL's own divisor (2.4 for two workers and the
leader). That serial cost was 215,000 for the 1,000,000-contact table (601 MB), whose scan took
400 to 780 ms; past EXACT_COUNT_MAX_SCAN_COST = 50,000 (some 230,000 contacts of the bench's
width, 100 to 180 ms to count) the count is skipped. Smaller tables are still counted exactly.
"""

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
# The exact count is tried when the estimate is at most CAP * ESTIMATE_MARGIN (see above)
ESTIMATE_MARGIN = 1.1
# and the plan costs at most this many of the planner's units (see above).
EXACT_COUNT_MAX_COST = 100_000.0
# and no sequential scan in it costs more than this, counted as one process would scan (a scan's
# cost grows with the table, not with the filter).
EXACT_COUNT_MAX_SCAN_COST = 50_000.0


@dataclass(frozen=True)
class BoundedCount:
    value: int
    exact: bool


def count_bounded(
    queryset: QuerySet[Any],
    *,
    timeout_ms: int = EXACT_COUNT_TIMEOUT_MS,
    cap: int = EXACT_COUNT_CAP,
    seen: int = 0,
) -> BoundedCount:
    """The exact count when the planner expects at most about CAP rows at a cost that fits
    TIMEOUT_MS, and the count finds at most CAP within it; else an estimate marked inexact,
    never below a count seen: the rows counted, or SEEN, the rows the caller already knows
    match (a page's rows and the one after them)."""
    rows, cost, scan_cost = _planned(queryset)
    estimate = BoundedCount(value=max(rows, seen), exact=False)
    if (
        rows > cap * ESTIMATE_MARGIN
        or cost > EXACT_COUNT_MAX_COST
        or scan_cost > EXACT_COUNT_MAX_SCAN_COST
    ):
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
    return _planned(queryset)[0]


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
