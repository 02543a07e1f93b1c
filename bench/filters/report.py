"""The filters section of the bench report."""

from __future__ import annotations

from bench.filters.figures import (
    FLOOR_GOAL,
    INDEXED_GOAL_MS,
    PEER_GOAL,
    PEER_SLOW_MS,
    RANGE_KEY,
    SCENARIO_BUDGET_SECONDS,
    VARIANTS,
    WORST_GOAL_MS,
    FilterFigures,
    FilterTiming,
)
from bench.profiling import profile_report


def _verdict(timing: FilterTiming, page_one_p95: float | None) -> str:
    http95 = timing.p(timing.http_ms, 95)
    misses = []
    goal = INDEXED_GOAL_MS if timing.scenario.indexed else WORST_GOAL_MS
    if http95 > goal:
        misses.append(f"p95 > {goal:.0f} ms")
    request50 = timing.p(timing.request_sql_ms, 50) if timing.request_sql_ms else 0.0
    if request50 and timing.p(timing.http_ms, 50) / request50 > FLOOR_GOAL:
        misses.append(f"> {FLOOR_GOAL:.0f}x its SQL")
    if (
        page_one_p95 is not None
        and "Cursor" in timing.scenario.name
        and http95 > page_one_p95 * 1.5
    ):
        misses.append("slower than page 1")
    return "met" if not misses else "missed: " + ", ".join(misses)


def filters_report(figures: FilterFigures) -> str:
    lines = ["### Filters (GET /open/v5/users, POST /open/v5/users/search)", ""]
    if figures.server:
        lines += [f"Server: `{figures.server}`.", ""]
    lines += [f"- {item}" for item in figures.setup]
    if figures.deep_check:
        lines.append(f"- {figures.deep_check}")
    if figures.index_build_seconds is not None:
        lines.append(
            f"- Marking {RANGE_KEY} indexed and syncing (CREATE INDEX CONCURRENTLY over the "
            f"tenant) took {figures.index_build_seconds:.1f} s.{figures.index_note}"
        )
    elif figures.index_note:
        lines.append(f"- {figures.index_note}")
    lines += [
        "",
        "| Scenario | API p50 (ms) | API p95 (ms) | Page SQL p50 (ms) | Page SQL p95 (ms) | "
        "API/page SQL p50 | Count p50 (ms) | Request SQL p50 (ms) | API/request SQL p50 | "
        "Fixed cost p50 (ms) | Count | Page plan | Goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    page_one = next((t for t in figures.timings if t.scenario.name.startswith("No filter")), None)
    page_one_p95 = page_one.p(page_one.http_ms, 95) if page_one and page_one.http_ms else None
    for t in figures.timings:
        if t.error:
            lines.append(f"| {t.scenario.name} |{' - |' * 11} FAILED: {t.error} |")
            continue
        http50, http95 = t.p(t.http_ms, 50), t.p(t.http_ms, 95)
        sql50, sql95 = t.p(t.sql_ms, 50), t.p(t.sql_ms, 95)
        ratio = f"{http50 / sql50:.1f}x" if sql50 else "-"
        count50 = t.p(t.count_ms, 50)
        request50 = t.p(t.request_sql_ms, 50) if t.request_sql_ms else 0.0
        whole = f"{http50 / request50:.1f}x" if request50 else "-"
        fixed = f"{http50 - request50:.1f}" if request50 else "-"
        value, exact = t.count or (0, False)
        count = f"{value:,} ({'exact' if exact else 'estimate'})"
        lines.append(
            f"| {t.scenario.name} | {http50:.1f} | {http95:.1f} | {sql50:.1f} | {sql95:.1f} | "
            f"{ratio} | {count50:.1f} | {request50:.1f} ({t.request_statements}) | {whole} | "
            f"{fixed} | {count} | {t.plan} | {_verdict(t, page_one_p95)} |"
        )
    lines += ["", f"The per-key index variants of the {RANGE_KEY} rows:", ""]
    lines += [f"- {label}: {meaning}." for label, meaning in VARIANTS]
    runs = sorted({len(t.http_ms) for t in figures.timings if t.http_ms})
    lines += [
        "",
        f"Runs per scenario: {', '.join(map(str, runs))} (after 2 warm-up runs; fewer when a "
        f"scenario passes {SCENARIO_BUDGET_SECONDS:.0f} s). Goal: p95 ≤ {INDEXED_GOAL_MS:.0f} ms "
        f"for filters an index serves, ≤ {WORST_GOAL_MS:.0f} ms for the others (marked by "
        f"“p95 > 500 ms”), API ≤ {FLOOR_GOAL:.0f}x the SQL the request runs (its statements "
        "alone, in brackets their number with BEGIN and COMMIT: credential, list settings, rows, "
        "count). Fixed cost: the API's p50 less the p50 of all the SQL the request sends (what "
        "HTTP, Django and the app add).",
        "",
    ]
    lines += peer_report(figures)
    for profile in figures.profiles:
        lines += profile_report(profile, f"the API request “{profile.name}”")
    return "\n".join(lines)


def _peer_verdict(timing: FilterTiming, peer50: float, api50: float) -> str:
    if "phone" in timing.scenario.name:
        return "reported, no goal"
    if timing.scenario.indexed and peer50 >= PEER_SLOW_MS:
        goal = f"≥ {PEER_GOAL:.0f}x"
        return ("met " if peer50 / api50 >= PEER_GOAL else "missed ") + goal
    return "met: faster" if api50 < peer50 else "missed: not faster"


def peer_report(figures: FilterFigures) -> list[str]:
    """The table of the peer's SQL against our whole API request, scenario by scenario."""
    rows = [t for t in figures.timings if t.peer_ms or t.peer_error]
    if not rows:
        return [figures.peer_note, ""] if figures.peer_note else []
    lines = [
        "Against the peer (Chatwoot's contact filter SQL on these tables, bench/filters/peer.py: "
        "its count and its page, SQL only, no Ruby or HTTP; our figure is the whole API request):",
        "",
        "| Scenario | Our API p50 (ms) | Peer SQL p50 (ms) | Peer SQL p95 (ms) | Peer ÷ ours "
        "| Goal |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for t in rows:
        if t.peer_error or t.error or not t.http_ms:
            lines.append(
                f"| {t.scenario.name} | - | - | - | - | FAILED: {t.peer_error or t.error} |"
            )
            continue
        api50 = t.p(t.http_ms, 50)
        peer50, peer95 = t.p(t.peer_ms, 50), t.p(t.peer_ms, 95)
        lines.append(
            f"| {t.scenario.name} | {api50:.1f} | {peer50:.1f} | {peer95:.1f} | "
            f"{peer50 / api50:.1f}x | {_peer_verdict(t, peer50, api50)} |"
        )
    runs = sorted({len(t.peer_ms) for t in rows if t.peer_ms})
    lines += [
        "",
        f"Peer runs per scenario: {', '.join(map(str, runs))} (after 2 warm-up runs). Goal: "
        f"≥ {PEER_GOAL:.0f}x where an index serves the filter and the peer's SQL takes "
        f"{PEER_SLOW_MS:.0f} ms or more; faster than it in every other scenario; the phone search "
        "is reported with no goal.",
        "",
    ]
    return lines
