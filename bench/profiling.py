"""Where a request's time goes, measured in this process through django.test.Client.

The requests run twice: once plainly, with every statement timed by an execute wrapper (so the
wall time per request and the time inside `cursor.execute` are exact, commits left out), and
once under cProfile, whose own-time per function is grouped by package. cProfile slows Python
down, so its figures are shares, not milliseconds.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?([a-z_]+)"?', re.IGNORECASE)


@dataclass
class RequestProfile:
    name: str
    requests: int
    total_ms: float  # per request, without the profiler
    sql_ms: float  # per request, inside cursor.execute
    statements: list[tuple[str, float, float]]  # label, per request, mean ms
    packages: list[tuple[str, float]]  # group, share of the profiled time %
    functions: list[tuple[str, float]]  # function, share %
    steps: list[tuple[str, float]] = field(default_factory=list)  # step, cumulative share %


# A step of a request: (label, the end of its function's file path, the function's name).
Step = tuple[str, str, str]


def statement_label(sql: str) -> str:
    """A short name for a statement: its verb and first table (and FOR UPDATE, COUNT)."""
    text = sql.lstrip()
    verb = text.split(None, 1)[0].upper() if text else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
        return verb
    if "crm_ratelimitwindow" in text:
        return "rate-limit hit (DELETE expired + INSERT … ON CONFLICT)"
    if "set_config('statement_timeout'" in text:
        return "SET LOCAL statement_timeout"
    table = _TABLE.search(text)
    if table is None:  # e.g. SELECT pg_advisory_xact_lock_shared(…)
        return re.sub(r"\(.*", "(…)", " ".join(text.split())[:60])
    label = f"{verb} {table.group(1)}"
    upper = text.upper()
    if verb == "INSERT" and "ON CONFLICT" in upper:
        label += " … ON CONFLICT"
    if "FOR UPDATE" in upper:
        label += " … FOR UPDATE"
    if verb == "SELECT" and "COUNT(" in upper:
        label += " (count)"
    return label


def _package(filename: str, name: str) -> str:
    path = filename.replace("\\", "/")
    for needle, group in (
        ("/rest_framework/", "Django REST framework"),
        ("/django/db/", "Django ORM / db"),
        ("/django/", "Django (other: request, middleware, signing)"),
        ("/psycopg", "psycopg (incl. waiting for PostgreSQL)"),
        ("/ua_parser", "ua-parser"),
        ("/phonenumbers/", "phonenumbers"),
        ("/json/", "json"),
    ):
        if needle in path:
            return group
    if filename == "~":  # a built-in function
        if "psycopg" in name:
            return "psycopg (incl. waiting for PostgreSQL)"
        return "built-ins (other)"
    for app in ("contacts", "crm", "profile_schema", "masking"):
        if f"{BASE_DIR.as_posix()}/{app}/" in path:
            return "the app (contacts, crm, profile_schema, masking)"
    return "other libraries (standard library, …)"


def request_profile(
    name: str,
    send: Callable[[int], None],
    requests: int,
    warmup: int = 20,
    steps: tuple[Step, ...] = (),
) -> RequestProfile:
    """Call SEND(i) for i in a warm-up range, REQUESTS times timed, REQUESTS times profiled.

    STEPS name functions whose cumulative time is reported as a share of the profiled time."""
    from django.db import connection

    statements: dict[str, list[float]] = defaultdict(list)

    def timed(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, ctx)
        finally:
            statements[statement_label(sql)].append((time.perf_counter() - started) * 1000)

    for index in range(warmup):
        send(index)
    with connection.execute_wrapper(timed):
        started = time.perf_counter()
        for index in range(warmup, warmup + requests):
            send(index)
        total = time.perf_counter() - started
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(warmup + requests, warmup + 2 * requests):
        send(index)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for (filename, line, function), (_, _, own, _, _) in stats.items():
        by_package[_package(filename, function)] += own
        label = function if filename == "~" else f"{Path(filename).name}:{line} {function}"
        by_function[label] += own
    spent = sum(by_package.values()) or 1.0
    step_shares = []
    for label, suffix, function in steps:
        cumulative = sum(
            values[3]
            for (filename, _, name), values in stats.items()
            if name == function and filename.replace("\\", "/").endswith(suffix)
        )
        step_shares.append((label, 100 * cumulative / spent))
    return RequestProfile(
        name=name,
        requests=requests,
        total_ms=total * 1000 / requests,
        sql_ms=sum(sum(v) for v in statements.values()) / requests,
        statements=sorted(
            ((label, len(v) / requests, sum(v) / len(v)) for label, v in statements.items()),
            key=lambda row: -row[1] * row[2],
        ),
        packages=[(group, 100 * own / spent) for group, own in by_package.most_common()],
        functions=[(label, 100 * own / spent) for label, own in by_function.most_common(8)],
        steps=step_shares,
    )


def profile_report(profile: RequestProfile, what: str) -> list[str]:
    lines = [
        f"Where {what} goes ({profile.requests} requests in this process through "
        f"django.test.Client, DEBUG off): {profile.total_ms:.2f} ms a request, of which "
        f"{profile.sql_ms:.2f} ms inside `cursor.execute` (commits not included).",
        "",
        "| Statement | Per request | Mean (ms) |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {label} | {n:.2f} | {ms:.2f} |" for label, n, ms in profile.statements]
    if profile.steps:
        lines += ["", "| Step (cumulative, under cProfile) | Share of the request |"]
        lines += ["| --- | ---: |"]
        lines += [f"| {label} | {share:.0f} % |" for label, share in profile.steps]
    lines += ["", "| Python time under cProfile, by package | Share |", "| --- | ---: |"]
    lines += [f"| {group} | {share:.0f} % |" for group, share in profile.packages if share >= 1]
    top = ", ".join(f"`{label}` {share:.0f} %" for label, share in profile.functions[:6])
    lines += ["", f"Top functions (own time): {top}.", ""]
    return lines
