"""The filters and boots sections of the bench report, from small fake figures."""

from __future__ import annotations

import os

import pytest

from bench.boots.figures import BootFigures, FloorRun, LoadRun
from bench.boots.report import boots_report
from bench.filters.figures import FilterFigures, FilterTiming, Scenario
from bench.filters.report import filters_report
from bench.filters.scenarios import deep_position
from crm.models import Channel


def filter_figures() -> FilterFigures:
    page_one = FilterTiming(
        Scenario("No filter, page 1", "GET"),
        http_ms=[4.0, 3.0, 5.0, 6.0],
        sql_ms=[0.5, 0.4, 0.6, 0.5],
        count_ms=[0.3, 0.2],
        count=(597_400, False),
        rows=25,
        plan="Index Scan contact_last_seen_idx",
        statements=1,
        request_sql_ms=[1.0, 1.5, 2.0, 1.2],
        request_statements=6,
        peer_ms=[700.0, 900.0, 800.0, 2000.0],
    )
    broken = FilterTiming(
        Scenario("name contains x", "GET"), [], [], [], None, 0, "", 0, "RuntimeError: 500"
    )
    return FilterFigures(
        timings=[page_one, broken],
        setup=["Tenant: bench-1, 600 contacts."],
        server="gunicorn crm.wsgi -w 2",
    )


def test_a_filter_row_holds_nearest_rank_percentiles_ratios_and_the_goal_it_missed() -> None:
    lines = filters_report(filter_figures()).splitlines()

    assert lines[:5] == [
        "### Filters (GET /open/v5/users, POST /open/v5/users/search)",
        "",
        "Server: `gunicorn crm.wsgi -w 2`.",
        "",
        "- Tenant: bench-1, 600 contacts.",
    ]
    assert lines[8:10] == [
        "| No filter, page 1 | 4.0 | 6.0 | 0.5 | 0.6 | 8.0x | 0.2 | 1.2 (6) | 3.3x | 2.8 "
        "| 597,400 (estimate) | Index Scan contact_last_seen_idx | missed: > 3x its SQL |",
        "| name contains x |" + " - |" * 11 + " FAILED: RuntimeError: 500 |",
    ]
    runs = next(i for i, line in enumerate(lines) if line.startswith("Runs per scenario: 4 "))
    peer = lines.index("| Scenario | Our API p50 (ms) | Peer SQL p50 (ms) | Peer SQL p95 (ms) "
                       "| Peer ÷ ours | Goal |")  # fmt: skip
    assert runs < peer
    # nearest rank: p50 of the peer's 4 samples is 800, p95 2,000; 800 / 4 = 200x
    assert lines[peer + 2] == "| No filter, page 1 | 4.0 | 800.0 | 2000.0 | 200.0x | met ≥ 10x |"
    assert lines[peer + 4].startswith("Peer runs per scenario: 4 (after 2 warm-up runs). Goal:")


def boot_figures() -> BootFigures:
    run = LoadRun(
        mix="new",
        connections=4,
        result={
            "ok": 1000,
            "per_second": 560.0,
            "p50_ms": 6.8,
            "p95_ms": 10.7,
            "p99_ms": 13.1,
            "statuses": {"200": 1000, "429": 3},
        },
        cpu={"gunicorn": 1.7, "postgres": 0.6, "load generator": 0.2, "machine busy %": 71.0},
        sessions={"idle": 67.0, "active: on CPU": 0.2},
        command=["python", "-m", "bench.load"],
    )
    floors = [
        FloorRun("new", 1, 1000, 0.5, [0.5] * 1000, 0.38),
        FloorRun("new", 8, 2000, 0.8, [2.0] * 2000, 0.39),
    ]
    return BootFigures(
        server=["/srv/crm/.venv/bin/gunicorn", "crm.wsgi", "-w", "2"],
        runs=[run],
        floors=floors,
        vacuum_seconds=5.6,
        limiter="PostgreSQL (no REDIS_URL)",
    )


def test_the_boots_section_shows_the_runs_the_floor_and_their_ratio() -> None:
    ceiling = f"{(os.cpu_count() or 1) * 1000 / 2.5:,.0f}/s"

    lines = boots_report(boot_figures()).splitlines()

    assert lines[2] == (
        "Server: `gunicorn crm.wsgi -w 2`; rate-limit counters in PostgreSQL (no REDIS_URL); "
        "statements of server-bound cursors prepared after 5 runs."
    )
    assert lines[6] == (
        f"| new | 4 | 560 | 6.8 | 10.7 | 13.1 | {{'429': 3}} | 1.7 | 0.6 | 0.2 | {ceiling} | 71 % |"
    )
    assert "| new | 4 | idle 67 % |" in lines
    assert "| new | 1 | 2,000 | 0.50 | 0.50 | 0.50 | 1,000 | 0.38 |" in lines
    assert "| new | 8 | 2,500 | 2.00 | 2.00 | 2.00 | 2,000 | 0.39 |" in lines
    assert "| new | 560 (4) | 2,500 | 4.5x | 13.6x (at 4 connections) |" in lines
    assert lines[-1] == (
        "Afterwards the contacts made by the run were deleted and `VACUUM (ANALYZE)` of the "
        "contacts took 5.6 s."
    )


def test_the_deep_page_follows_row_50000_or_a_page_80_percent_into_a_smaller_tenant() -> None:
    channel = Channel(name="bench-1")

    assert deep_position(channel, 600_112) == 50_000
    assert deep_position(channel, 18_003) == 14_400
    assert deep_position(channel, 50) == 25


def test_a_tenant_too_small_for_a_deep_page_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError) as refused:
        deep_position(Channel(name="bench-1"), 49)

    assert str(refused.value) == (
        "The filter bench needs at least 50 contacts in its big tenant; bench-1 holds 49: "
        "seed more (--contacts)."
    )
