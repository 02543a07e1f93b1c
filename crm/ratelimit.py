"""Fixed-window rate limits: one atomic round trip per request, in Redis or PostgreSQL.

Each bucket (say "sdk:key:<channel>" and "sdk:addr:<client address>") counts hits per window;
a request is refused when any of its buckets is over its limit. Every hit is counted atomically,
so concurrent requests never lose one:

- Redis (settings.RATE_LIMIT_REDIS_URL, from REDIS_URL): INCR of a key per bucket and window
  (with its expiry when new), all of a request's buckets in one script call. The counters stay
  off the database, whose CPU the writes of the product need.
- PostgreSQL otherwise: one INSERT … ON CONFLICT DO UPDATE … RETURNING on an UNLOGGED table.

When Redis cannot be reached, the request is counted in PostgreSQL instead and Redis is tried
again after REDIS_RETRY_SECONDS, so an outage of the cache slows requests down by one timeout
every few seconds, never refuses them. What that costs: the PostgreSQL windows start from zero,
so during an outage a client can get up to twice its limit in one window, and a hit whose reply
timed out after Redis counted it is counted twice. Redis must keep the keys until they expire:
give it `maxmemory-policy noeviction` (or a database of its own that never fills); an evicted or
restarted-empty Redis starts the windows again.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.25
REDIS_RETRY_SECONDS = 5.0
REDIS_KEY_PREFIX = "crm:ratelimit:"


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


def rate_limit_hit(
    limits: list[Limit], *, now: float | None = None, weight: int = 1
) -> RateDecision:
    """Count WEIGHT hits (one request, or the values it looks up) in every bucket of LIMITS and
    decide whether the request may go on."""
    now = time.time() if now is None else now
    starts = [math.floor(now / lim.period) * lim.period for lim in limits]
    client = _redis_client()
    hits = None
    if client is not None:
        hits = _redis_hits(client, limits, starts, weight)
    if hits is None:
        hits = _postgres_hits(limits, starts, now, weight)
    return _decision(limits, starts, hits, now)


class _RedisState:
    """This process's Redis client, and until when it is left alone after a failure."""

    url: str = ""
    client: redis.Redis | None = None
    script: Any = None  # the hit script registered with the client (redis.commands.core.Script)
    resting_until: float = 0.0


_state = _RedisState()


def _redis_client() -> redis.Redis | None:
    url = getattr(settings, "RATE_LIMIT_REDIS_URL", "")
    if not url or time.monotonic() < _state.resting_until:
        return None
    if _state.client is None or _state.url != url:
        _state.client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        _state.url = url
        _state.script = None
    return _state.client


# One command for all of a request's buckets: INCRBY each window key by the weight (the last
# argument), and give a new key its expiry (one period and a second after its first hit, so it
# outlives its window) in the same atomic step.
HIT_SCRIPT = """
local hits = {}
local weight = tonumber(ARGV[#ARGV])
for i, key in ipairs(KEYS) do
    hits[i] = redis.call('INCRBY', key, weight)
    if hits[i] == weight then
        redis.call('EXPIRE', key, ARGV[i])
    end
end
return hits
"""


def _redis_hits(
    client: redis.Redis, limits: list[Limit], starts: list[int], weight: int = 1
) -> dict[str, int] | None:
    """Count a hit in every bucket's window key, in one script call; None when unreachable."""
    if _state.script is None:
        _state.script = client.register_script(HIT_SCRIPT)
    keys = [
        f"{REDIS_KEY_PREFIX}{lim.bucket}:{start}" for lim, start in zip(limits, starts, strict=True)
    ]
    try:
        replies = _state.script(keys=keys, args=[*(lim.period + 1 for lim in limits), weight])
    except redis.RedisError as error:
        _state.resting_until = time.monotonic() + REDIS_RETRY_SECONDS
        logger.warning("Rate limits counted in PostgreSQL for %ss: %s", REDIS_RETRY_SECONDS, error)
        return None
    return {lim.bucket: int(replies[i]) for i, lim in enumerate(limits)}


def _postgres_hits(
    limits: list[Limit], starts: list[int], now: float, weight: int = 1
) -> dict[str, int]:
    values = ", ".join(["(%s, %s, %s)"] * len(limits))
    params: list[Any] = []
    for lim, start in zip(limits, starts, strict=True):
        params += [lim.bucket, datetime.fromtimestamp(start, tz=UTC), weight]
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
            " SET hits = crm_ratelimitwindow.hits + EXCLUDED.hits RETURNING bucket, hits"
        )
        cursor.execute(sql, [buckets, expired, *params])
        return dict(cursor.fetchall())


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
