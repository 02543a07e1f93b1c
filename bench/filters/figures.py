"""The filter bench's scenarios, timings and figures, and its goals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.filters.peer import PeerQuery
from bench.load import percentile
from bench.profiling import RequestProfile

RANGE_KEY = "profile.points"


RANGE_FROM = 99_000


VARIANTS = (
    ("indexed", "as `profile_indexes_sync` leaves it (the index, and whatever else the app adds)"),
    ("indexed + expression statistics (what-if)",
     "measured only when the sync made no statistics on the key's expression: the bench then "
     "runs CREATE STATISTICS … ON ((profile -> 'points')) and ANALYZE itself; not app code"),
)  # fmt: skip


DEEP_POSITION = 50_000  # page 2,001 of 25 rows


PAGE_SIZE = 25  # the API's default page


MIN_TENANT = 2 * PAGE_SIZE  # a smaller tenant has no deep page to measure


SCENARIO_BUDGET_SECONDS = 25.0


MIN_RUNS = 5


INDEXED_GOAL_MS = 100.0


WORST_GOAL_MS = 500.0


FLOOR_GOAL = 3.0


PEER_GOAL = 10.0  # times faster than the peer's SQL, where an index serves and it takes


PEER_SLOW_MS = 100.0  # this long or more; faster than it in every other scenario


@dataclass
class Scenario:
    name: str
    method: str  # GET | POST
    params: dict[str, Any] = field(default_factory=dict)  # GET query or POST body
    indexed: bool = True  # whether the goal for indexed filters applies
    note: str = ""
    peer: PeerQuery | None = None  # the peer's query for it (bench.filters.peer)


@dataclass
class FilterTiming:
    scenario: Scenario
    http_ms: list[float]
    sql_ms: list[float]
    count_ms: list[float]
    count: tuple[int, bool] | None  # value, exact
    rows: int
    plan: str
    statements: int
    error: str = ""
    request_sql_ms: list[float] = field(default_factory=list)
    request_statements: int = 0
    peer_ms: list[float] = field(default_factory=list)  # the peer's SQL (count + page)
    peer_error: str = ""

    def p(self, samples: list[float], percent: float) -> float:
        return percentile(sorted(samples), percent)


@dataclass
class FilterFigures:
    timings: list[FilterTiming] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)  # what was chosen, with counts
    index_build_seconds: float | None = None
    index_note: str = ""
    deep_check: str = ""
    deep_position: int = DEEP_POSITION
    server: str = ""
    profiles: list[RequestProfile] = field(default_factory=list)
    peer_note: str = ""
