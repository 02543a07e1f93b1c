"""Fixed-window rate limits kept in PostgreSQL: one atomic upsert per request.

Each bucket (say "sdk:key:<plugin key>" and "sdk:addr:<client address>") counts hits per window;
a request is refused when any of its buckets is over its limit. The counter is incremented in
one INSERT … ON CONFLICT DO UPDATE … RETURNING, so concurrent requests never lose a hit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection


@dataclass(frozen=True)
class Limit:
    bucket: str
    limit: int
    period: int  # seconds


@dataclass(frozen=True)
class RateDecision:
    """The outcome for the tightest bucket: what the x-ratelimit-* headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the window ends
    retry_after: int  # seconds; 0 when allowed


def limit_parse(bucket: str, rule: str) -> Limit:
    """A Limit from a rule such as '600/60' (600 hits per 60 seconds)."""
    hits, _, period = rule.partition("/")
    return Limit(bucket=bucket, limit=int(hits), period=int(period or 60))


def rate_limit_hit(limits: list[Limit], *, now: float | None = None) -> RateDecision:
    """Count one hit in every bucket of LIMITS and decide whether the request may go on."""
    now = time.time() if now is None else now
    starts = [math.floor(now / lim.period) * lim.period for lim in limits]
    values = ", ".join(["(%s, %s, 1)"] * len(limits))
    params: list[Any] = []
    for lim, start in zip(limits, starts, strict=True):
        params += [lim.bucket, datetime.fromtimestamp(start, tz=UTC)]
    # Expired windows of these buckets go in the same statement: no sweeper, one round trip.
    expired = datetime.fromtimestamp(now - max(lim.period for lim in limits) * 2, tz=UTC)
    buckets = [lim.bucket for lim in limits]
    with connection.cursor() as cursor:
        sql = (
            "WITH expired AS (DELETE FROM crm_ratelimitwindow"  # noqa: S608 - placeholders only
            " WHERE bucket = ANY(%s) AND window_start < %s)"
            " INSERT INTO crm_ratelimitwindow (bucket, window_start, hits) VALUES "
            + values
            + " ON CONFLICT (bucket, window_start) DO UPDATE"
            " SET hits = crm_ratelimitwindow.hits + 1 RETURNING bucket, hits"
        )
        cursor.execute(sql, [buckets, expired, *params])
        hits = dict(cursor.fetchall())
    return _decision(limits, starts, hits, now)


def _decision(
    limits: list[Limit], starts: list[int], hits: dict[str, int], now: float
) -> RateDecision:
    decisions = []
    for lim, start in zip(limits, starts, strict=True):
        count = hits[lim.bucket]
        reset = start + lim.period
        decisions.append(
            RateDecision(
                allowed=count <= lim.limit,
                limit=lim.limit,
                remaining=max(lim.limit - count, 0),
                reset=reset,
                retry_after=0 if count <= lim.limit else max(math.ceil(reset - now), 1),
            )
        )
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return max(refused, key=lambda d: d.retry_after)
    return min(decisions, key=lambda d: d.remaining)


def rate_limit_purge(*, before: float) -> int:
    """Delete every bucket's windows that started before BEFORE (epoch seconds)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM crm_ratelimitwindow WHERE window_start < %s",
            [datetime.fromtimestamp(before, tz=UTC)],
        )
        return int(cursor.rowcount)
