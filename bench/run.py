"""Seed a `crm_bench` database and time the contact list, the admin changelist and counts,
then the filtered lists through the REST API (bench/filters.py) and the SDK boots under load
(bench/boots.py), both through a gunicorn server on loopback.

Run as ``python -m bench.run [--contacts N] [--channels M] [--repeat R] [--reuse]`` with
DATABASE_URL set (``make bench`` does it). The database named there is never touched: the
benchmark works in a database called ``crm_bench`` on the same server, created when missing.
Prints a Markdown report (paste it into docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from contacts.models import Contact
    from crm.counting import BoundedCount
    from crm.models import Channel
    from crm.permissions import Viewer

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "crm_bench"
MAINTENANCE_DATABASE = "postgres"
BIG_TENANT = "bench-1"
BENCH_USER = "bench-admin"
PAGE_SIZE = 25
DEEP_POSITION = 500_000
DATA_SQL = """
SELECT count(*), count(*) FILTER (WHERE c.channel_id = %s), count(DISTINCT c.channel_id),
       (SELECT count(*) FROM contacts_event e JOIN crm_channel ch ON ch.id = e.channel_id
        WHERE ch.name ~ '^bench-[0-9]+$')
FROM contacts_contact c JOIN crm_channel ch ON ch.id = c.channel_id
WHERE ch.name ~ '^bench-[0-9]+$'
"""
SIZE_NAMES = (
    "Database size",
    "contacts_contact table",
    "contacts_contact indexes",
    "of which contact_profile_gin",
    "contacts_event table",
    "contacts_event indexes",
)
SIZES_SQL = """
SELECT pg_database_size(current_database()),
       pg_table_size('contacts_contact'), pg_indexes_size('contacts_contact'),
       pg_relation_size('contact_profile_gin'),
       pg_table_size('contacts_event'), pg_indexes_size('contacts_event')
"""
BENCH_CONTACTS_SQL = (
    "SELECT count(*) FROM contacts_contact c JOIN crm_channel ch ON ch.id = c.channel_id"
    " WHERE ch.name ~ '^bench-[0-9]+$'"
)


@dataclass(frozen=True)
class Timing:
    """One scenario's wall-clock samples, in seconds."""

    name: str
    samples: list[float]
    note: str = ""

    def percentile_ms(self, percent: float) -> float:
        """The nearest-rank percentile of the samples, in milliseconds."""
        ordered = sorted(self.samples)
        rank = max(1, math.ceil(percent / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


@dataclass(frozen=True)
class Figures:
    """Everything the report shows."""

    machine: str
    data: str
    timings: list[Timing]
    seed: dict[str, Any] | None
    sizes: dict[str, int]


def main(argv: list[str] | None = None) -> int:
    """Prepare the bench database, measure, print the Markdown report."""
    args = _arguments(argv)
    source = os.environ.get("DATABASE_URL", "")
    if not source:
        print("DATABASE_URL is not set: run `make bench`.", file=sys.stderr)
        return 2
    url = bench_database_url(source)
    database_ensure(source)
    _manage(url, "migrate", "--noinput", "-v", "0")
    seed = None
    if args.reuse and bench_contacts(url) >= args.contacts:
        print(f"Reusing {BENCH_DATABASE}: it holds {args.contacts:,}+ bench contacts.")
    else:
        seed = _seed(url, args)
    _django_setup(url)
    if not args.skip_lists:
        print(report(measure(args.repeat, seed)), flush=True)
    failed = False
    for skip, section in ((args.skip_filters, filters_section), (args.skip_boots, boots_section)):
        if skip:
            continue
        try:
            print("\n" + section(url, args), flush=True)
        except Exception as error:  # report it, and still run the other part
            failed = True
            print(f"\n{section.__name__} FAILED: {type(error).__name__}: {error}", flush=True)
    return 1 if failed else 0


def filters_section(url: str, args: argparse.Namespace) -> str:
    """Filtered lists through the REST API against their SQL (bench/filters.py)."""
    from bench.filters import filters_report, measure_filters

    started = time.perf_counter()
    figures = measure_filters(
        big_tenant(), url, repeat=args.filter_repeat, threads=args.api_threads
    )
    return f"{filters_report(figures)}\n\n(Filters took {time.perf_counter() - started:.0f} s.)"


def boots_section(url: str, args: argparse.Namespace) -> str:
    """SDK boots under load against the upsert alone (bench/boots.py)."""
    from bench.boots import boots_report, measure_boots

    started = time.perf_counter()
    figures = measure_boots(
        big_tenant(),
        url,
        levels=[int(n) for n in args.boot_connections.split(",") if n.strip()],
        seconds=args.boot_seconds,
        warmup=args.boot_warmup,
        floor_seconds=args.floor_seconds,
        profile_boots=args.profile_boots,
        workers=args.boot_workers,
        threads=args.boot_threads,
    )
    return f"{boots_report(figures)}\n\n(Boots took {time.perf_counter() - started:.0f} s.)"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=50, help="Timed runs per scenario.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--reuse", action="store_true", help="Skip seeding when crm_bench holds enough contacts."
    )
    parser.add_argument("--skip-lists", action="store_true", help="Skip the list scenarios.")
    parser.add_argument("--skip-filters", action="store_true", help="Skip the filter scenarios.")
    parser.add_argument("--skip-boots", action="store_true", help="Skip the SDK boot load.")
    parser.add_argument(
        "--filter-repeat", type=int, default=20, help="Timed runs per filter scenario."
    )
    parser.add_argument(
        "--api-threads",
        type=int,
        default=4,
        help="Threads of the API server's gthread workers, as README deploys; 0: sync workers.",
    )
    parser.add_argument(
        "--boot-connections", default="4,8,32", help="Concurrent connections, comma-separated."
    )
    parser.add_argument("--boot-seconds", type=float, default=15.0, help="Recorded seconds.")
    parser.add_argument("--boot-warmup", type=float, default=3.0, help="Unrecorded seconds.")
    parser.add_argument("--boot-workers", type=int, default=2, help="gunicorn workers.")
    parser.add_argument(
        "--boot-threads",
        type=int,
        default=4,
        help="N: gthread workers with N threads (keep-alive), as README deploys; 0: sync workers.",
    )
    parser.add_argument("--floor-seconds", type=float, default=5.0, help="Seconds per floor run.")
    parser.add_argument("--profile-boots", type=int, default=200, help="Boots profiled in process.")
    return parser.parse_args(argv)


def bench_database_url(url: str, database: str = BENCH_DATABASE) -> str:
    """URL with its database (path, or a dbname= query parameter) replaced by DATABASE."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "dbname" for key, _ in query):
        pairs = [(key, database if key == "dbname" else value) for key, value in query]
        parts = parts._replace(query=urlencode(pairs, safe="/"))
    query_part = f"?{parts.query}" if parts.query else ""
    # Built by hand: urlunsplit drops the "//" of an empty host (postgresql:///db?host=/run).
    return f"{parts.scheme}://{parts.netloc}/{database}{query_part}"


def database_ensure(source: str) -> None:
    """Create BENCH_DATABASE on SOURCE's server when missing (nothing else is done there)."""
    try:
        conn = psycopg.connect(bench_database_url(source, MAINTENANCE_DATABASE), autocommit=True)
    except psycopg.OperationalError:  # no maintenance database: ask from the source database
        conn = psycopg.connect(source, autocommit=True)
    with conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(query, [BENCH_DATABASE]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))


def bench_contacts(url: str) -> int:
    """How many contacts the bench-* channels of URL's database hold."""
    with psycopg.connect(url) as conn:
        row = conn.execute(BENCH_CONTACTS_SQL).fetchone()
    return int(row[0]) if row else 0


def _manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, str(BASE_DIR / "manage.py"), *args]
    subprocess.run(command, check=True, cwd=BASE_DIR, env=env)  # noqa: S603 - fixed argv


def _seed(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run seed_bench --reset in a subprocess; its summary, plus the wall time seen from here."""
    with tempfile.TemporaryDirectory() as folder:
        summary_path = Path(folder) / "seed.json"
        started = time.perf_counter()
        _manage(
            url, "seed_bench", "--reset", "--contacts", str(args.contacts),
            "--channels", str(args.channels), "--seed", str(args.seed),
            "--summary-json", str(summary_path),
        )  # fmt: skip
        wall = time.perf_counter() - started
        summary: dict[str, Any] = json.loads(summary_path.read_text())
    summary["wall_seconds"] = round(wall, 2)
    return summary


def _django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    debug = os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"}
    default_hosts = "localhost,127.0.0.1,[::1]" if debug else ""
    hosts = os.environ.get("ALLOWED_HOSTS", default_hosts)
    os.environ["ALLOWED_HOSTS"] = ",".join(filter(None, [hosts, "testserver"]))
    import django

    django.setup()


def measure(repeat: int, seed: dict[str, Any] | None) -> Figures:
    """Time every scenario against the big tenant; gather sizes and the machine's description."""
    big = big_tenant()
    position = min(DEEP_POSITION, int(contact_count(big) * 0.8))
    counted = count_once(big)
    kind = "exact" if counted.exact else "estimate: the exact count passed its time limit"
    scenarios: list[tuple[str, Callable[[], object], str]] = [
        (f"Contact list, first page ({PAGE_SIZE} rows)", first_page(big), ""),
        (f"Contact list, keyset page after row {position:,}", keyset_page(big, position), ""),
        ("API list page (`contact_list_page`), first page", api_page(big, 0), "with its count"),
        (
            f"API list page, cursor after row {position:,}",
            api_page(big, position),
            "with its count",
        ),
        ("Admin changelist of the big tenant, end to end", admin_page(big), "100 rows"),
        ("Bounded count of the big tenant", lambda: count_once(big), f"{counted.value:,} ({kind})"),
    ]
    timings = [_timed(name, run, repeat, note) for name, run, note in scenarios]
    return Figures(machine_description(), data_description(big), timings, seed, sizes())


def _timed(name: str, run: Callable[[], object], repeat: int, note: str = "") -> Timing:
    """REPEAT timed runs of RUN after a few untimed warm-up runs; a failure is reported."""
    try:
        for _ in range(max(3, repeat // 10)):
            run()
    except Exception as error:  # the report names the failure; the other scenarios still run
        return Timing(name, [], f"FAILED: {type(error).__name__}: {error}")
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return Timing(name, samples, note)


def big_tenant() -> Channel:
    """The channel holding 60% of the contacts."""
    from crm.models import Channel

    return Channel.objects.get(name=BIG_TENANT)


def _viewer(channel: Channel) -> Viewer:
    from crm.permissions import ALL_PERMISSIONS, Viewer

    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def contact_count(channel: Channel) -> int:
    from contacts.selectors.contacts import contacts_for_channel

    return contacts_for_channel(channel=channel).count()


def count_once(channel: Channel) -> BoundedCount:
    """The bounded count behind list pages and the admin (exact when fast, else estimated)."""
    from contacts.selectors.contacts import contacts_for_channel
    from crm.counting import count_bounded

    return count_bounded(contacts_for_channel(channel=channel))


def first_page(channel: Channel) -> Callable[[], list[Contact]]:
    """The first page of the contact list, every row fetched."""
    from contacts.selectors.contacts import contact_list

    viewer = _viewer(channel)
    return lambda: list(contact_list(viewer=viewer)[:PAGE_SIZE])


def keyset_page(channel: Channel, position: int) -> Callable[[], list[Contact]]:
    """The page after the row at POSITION, fetched by its key, not by OFFSET."""
    from contacts.selectors.contacts import contact_list

    viewer = _viewer(channel)
    anchor = contact_list(viewer=viewer).only("id", "last_seen_at")[position]
    return lambda: page_after(viewer, anchor)


def page_after(viewer: Viewer, anchor: Contact) -> list[Contact]:
    """Rows after ANCHOR in (last_seen_at DESC NULLS LAST, id DESC) order: one index range."""
    from django.db.models import F
    from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan

    from contacts.selectors.contacts import contact_list

    rows = contact_list(viewer=viewer)
    if anchor.last_seen_at is None:
        return list(rows.filter(last_seen_at__isnull=True, id__lt=anchor.pk)[:PAGE_SIZE])
    after = TupleLessThan(Tuple(F("last_seen_at"), F("id")), (anchor.last_seen_at, anchor.pk))
    page = list(rows.filter(after)[:PAGE_SIZE])
    if len(page) < PAGE_SIZE:  # contacts never seen come last; a row comparison skips NULLs
        page += list(rows.filter(last_seen_at__isnull=True)[: PAGE_SIZE - len(page)])
    return page


def api_page(channel: Channel, position: int) -> Callable[[], object]:
    """A page of the REST API's contact list (25 rows, default order, bounded count included).

    The cursor is made lazily, on the first run, so a change in its format shows as a failed
    scenario rather than a crash.
    """
    from contacts.listing import contact_list_page

    viewer = _viewer(channel)
    cursor: list[str | None] = []

    def run() -> object:
        if not cursor:
            cursor.append(_api_cursor(viewer, position) if position else None)
        return contact_list_page(viewer=viewer, since=cursor[0])

    return run


def _api_cursor(viewer: Viewer, position: int) -> str:
    """The signed cursor `contacts.listing` hands out after the row at POSITION."""
    from contacts.selectors.contacts import contact_list
    from crm.cursors import cursor_encode

    anchor = contact_list(viewer=viewer).only("id", "last_seen_at")[position]
    value = anchor.last_seen_at.isoformat() if anchor.last_seen_at else None
    scope = f"{viewer.channel.pk}:contacts:-lastSeenAt"
    return cursor_encode(scope=scope, position=[value, anchor.pk])


def admin_page(channel: Channel) -> Callable[[], object]:
    """The Django admin's contact changelist filtered to CHANNEL, through the test client."""
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(_bench_superuser())
    url = f"{reverse('admin:contacts_contact_changelist')}?channel={channel.pk}"

    def run() -> object:
        response = client.get(url, secure=True)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response

    return run


def _bench_superuser() -> User:
    from django.contrib.auth.models import User

    user = User.objects.filter(username=BENCH_USER).first()
    if user is None:
        user = User.objects.create_superuser(
            BENCH_USER, "bench@example.invalid", secrets.token_urlsafe()
        )
    return user


def data_description(channel: Channel) -> str:
    """How many contacts and events the bench channels hold, and the big tenant's share."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(DATA_SQL, [channel.pk])
        contacts, big, channels, events = cursor.fetchone()
    return (
        f"{contacts:,} contacts in {channels} channels ({channel.name}: {big:,}), {events:,} events"
    )


def sizes() -> dict[str, int]:
    """Database, contacts and events sizes in bytes (tables with TOAST; indexes apart)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SIZES_SQL)
        values = cursor.fetchone()
    return dict(zip(SIZE_NAMES, values, strict=True))


def machine_description() -> str:
    """CPUs, memory, OS and the PostgreSQL / Python / Django versions, on one line."""
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('shared_buffers')")
        server, shared_buffers = cursor.fetchone()
    return (
        f"{os.cpu_count()} CPUs ({_cpu_model()}), {_memory_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}; {server.split(' on ')[0]} "
        f"(shared_buffers {shared_buffers}); "
        f"Python {platform.python_version()}, Django {django.get_version()}"
    )


def _cpu_model() -> str:
    for line in _read_lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in _read_lines("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def report(figures: Figures) -> str:
    """The Markdown report: machine, data, latency table, seed and size table."""
    lines = [f"Machine: {figures.machine}", "", f"Data: {figures.data}", ""]
    lines += [
        "| Scenario | p50 (ms) | p95 (ms) | Runs | Note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for timing in figures.timings:
        p50, p95 = (f"{timing.percentile_ms(p):.2f}" if timing.samples else "-" for p in (50, 95))
        runs = len(timing.samples)
        lines.append(f"| {timing.name} | {p50} | {p95} | {runs} | {timing.note} |")
    lines += ["", "| Figure | Value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in _seed_rows(figures.seed)]
    lines += [f"| {name} | {_size(value)} |" for name, value in figures.sizes.items()]
    return "\n".join(lines)


def _seed_rows(seed: dict[str, Any] | None) -> list[tuple[str, str]]:
    if seed is None:
        return [("Seed", "reused an existing crm_bench (not measured this run)")]
    phases = ", ".join(f"{name} {value:.1f} s" for name, value in seed["phases"].items())
    rows = f"{seed['contacts']:,} contacts + {seed['events']:,} events"
    return [
        ("Seed time", f"{seed['seconds']:.1f} s ({rows}, indexes included)"),
        ("Seed speed", f"{seed['contacts_per_second']:,} contacts/s"),
        ("Seed phases", phases),
        ("Seed wall time with Django start-up", f"{seed['wall_seconds']:.1f} s"),
    ]


def _size(value: int) -> str:
    return f"{value / 1024**3:.2f} GiB" if value >= 1024**3 else f"{value / 1024**2:.0f} MiB"


if __name__ == "__main__":
    sys.exit(main())
