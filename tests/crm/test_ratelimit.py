"""Rate-limit counters in Redis and in PostgreSQL: exact under concurrency, and a fallback."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.test import override_settings

from crm import ratelimit
from crm.models import RateLimitWindow
from crm.ratelimit import Limit, rate_limit_hit
from tests.concurrency import run_together

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _fresh_client() -> Iterator[None]:
    ratelimit._state.client, ratelimit._state.url, ratelimit._state.resting_until = None, "", 0
    ratelimit._state.script = None
    yield
    ratelimit._state.client, ratelimit._state.url, ratelimit._state.resting_until = None, "", 0
    ratelimit._state.script = None


@pytest.fixture(params=["postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "redis" and not _redis_reachable():
        pytest.skip(f"no Redis at {TEST_REDIS_URL} (set TEST_REDIS_URL)")
    url = TEST_REDIS_URL if request.param == "redis" else ""
    with override_settings(RATE_LIMIT_REDIS_URL=url):
        yield request.param


def bucket() -> str:
    return f"test:{uuid.uuid4().hex}"


@pytest.mark.django_db
def test_hits_up_to_the_limit_pass_and_the_next_waits_for_the_window(backend: str) -> None:
    limit = Limit(bucket=bucket(), limit=3, period=60)
    now = 1_800_000_010.0  # 10 s into a 60 s window

    decisions = [rate_limit_hit([limit], now=now) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after == 50
    assert decisions[-1].reset == 1_800_000_060
    assert rate_limit_hit([limit], now=now + 60).allowed  # the next window starts over


@pytest.mark.django_db
def test_the_tightest_bucket_decides(backend: str) -> None:
    wide, narrow = Limit(bucket(), 100, 60), Limit(bucket(), 2, 60)

    decisions = [rate_limit_hit([wide, narrow], now=1_800_000_000.0) for _ in range(3)]

    assert [(d.limit, d.remaining, d.allowed) for d in decisions] == [
        (2, 1, True),
        (2, 0, True),
        (2, 0, False),
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_are_all_counted(backend: str) -> None:
    limit = Limit(bucket=bucket(), limit=1_000, period=60)

    def hit_25_times(_: int) -> list[int]:
        return [rate_limit_hit([limit], now=1_800_000_000.0).remaining for _ in range(25)]

    seen = run_together(8, hit_25_times)

    remaining = [left for hits in seen for left in hits]
    assert sorted(remaining) == list(range(800, 1_000))  # 200 hits, each counted once
    RateLimitWindow.objects.filter(bucket=limit.bucket).delete()


@pytest.mark.django_db
def test_redis_counts_off_the_database() -> None:
    if not _redis_reachable():
        pytest.skip(f"no Redis at {TEST_REDIS_URL} (set TEST_REDIS_URL)")
    limit = Limit(bucket=bucket(), limit=5, period=60)

    with override_settings(RATE_LIMIT_REDIS_URL=TEST_REDIS_URL):
        rate_limit_hit([limit], now=1_800_000_000.0)

    key = f"{ratelimit.REDIS_KEY_PREFIX}{limit.bucket}:1800000000"
    stored = redis.Redis.from_url(TEST_REDIS_URL)
    assert int(stored.get(key) or 0) == 1
    assert 0 < int(stored.ttl(key)) <= 61
    assert not RateLimitWindow.objects.filter(bucket=limit.bucket).exists()


@pytest.mark.django_db
def test_an_unreachable_redis_falls_back_to_postgresql_and_rests() -> None:
    limit = Limit(bucket=bucket(), limit=5, period=60)

    with override_settings(RATE_LIMIT_REDIS_URL="redis://127.0.0.1:1/0"):
        first = rate_limit_hit([limit], now=1_800_000_000.0)
        assert ratelimit._redis_client() is None  # resting: no timeout on the next request
        second = rate_limit_hit([limit], now=1_800_000_000.0)

    assert (first.allowed, first.remaining, second.remaining) == (True, 4, 3)
    assert RateLimitWindow.objects.get(bucket=limit.bucket).hits == 2


@pytest.mark.django_db
def test_a_weighted_hit_counts_its_weight(backend: str) -> None:
    """A request that looks up many values counts each (masking.lookups' budget)."""
    limit = Limit(bucket=bucket(), limit=10, period=86400)
    now = 1_800_000_010.0

    first = rate_limit_hit([limit], now=now, weight=7)
    second = rate_limit_hit([limit], now=now, weight=3)
    third = rate_limit_hit([limit], now=now, weight=1)

    assert (first.allowed, first.remaining) == (True, 3)
    assert (second.allowed, second.remaining) == (True, 0)
    assert not third.allowed and third.retry_after > 0
