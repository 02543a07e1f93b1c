"""Seed a `crm_bench` database and time the contact list, the admin changelist and counts,
then the filtered lists through the REST API (bench/filters/) and the SDK boots under load
(bench/boots/), both through a gunicorn server on loopback.

Run as ``python -m bench.run [--contacts N] [--channels M] [--repeat R] [--reuse]`` with
DATABASE_URL set (``make bench`` does it). The database named there is never touched: the
benchmark works in a database called ``crm_bench`` on the same server, created when missing.
Prints each section as it is measured and writes the whole Markdown report, headed by the date,
the commit, the machine and the PostgreSQL server, to bench/results/<date>-<commit>.md
(bench/report.py); docs/performance.md says what the figures mean.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import sql

from bench.lists import big_tenant, lists_report, measure
from bench.report import RESULTS_DIR, report_write, run_header, section_failed

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "crm_bench"
MAINTENANCE_DATABASE = "postgres"
BENCH_CONTACTS_SQL = (
    "SELECT count(*) FROM contacts_contact c JOIN crm_channel ch ON ch.id = c.channel_id"
    " WHERE ch.name ~ '^bench-[0-9]+$'"
)


def main(argv: list[str] | None = None) -> int:
    """Prepare the bench database, measure, write the report file and say where it is."""
    args = _arguments(argv)
    source = os.environ.get("DATABASE_URL", "")
    if not source:
        print("DATABASE_URL is not set: run `make bench`.", file=sys.stderr)
        return 2
    url = bench_database_url(source, args.database)
    database_ensure(source, args.database)
    header = run_header(url, sys.argv[1:] if argv is None else argv)
    _manage(url, "migrate", "--noinput", "-v", "0")
    seed = None
    if args.reuse and bench_contacts(url) >= args.contacts:
        print(f"Reusing {args.database}: it holds {args.contacts:,}+ bench contacts.")
    else:
        seed = _seed(url, args)
    _django_setup(url)
    sections, failed = _sections_measured(url, args, seed)
    path = report_write(header=header, sections=sections, folder=args.results)
    print(f"\nReport written to {_shown(path)}", flush=True)
    return 1 if failed else 0


def _sections_measured(
    url: str, args: argparse.Namespace, seed: dict[str, Any] | None
) -> tuple[list[str], bool]:
    """Each section not skipped, printed as it is measured; whether any of them failed."""
    parts: list[tuple[str, bool, Callable[[], str]]] = [
        ("Lists", args.skip_lists, lambda: lists_report(measure(args.repeat, seed))),
        ("Filters", args.skip_filters, lambda: filters_section(url, args)),
        ("Boots", args.skip_boots, lambda: boots_section(url, args)),
    ]
    sections, failed = [], False
    for name, skip, run in parts:
        if skip:
            continue
        try:
            section = run()
        except Exception as error:  # report it, and still run the other parts
            failed = True
            section = section_failed(name, error)
        print(f"\n{section}", flush=True)
        sections.append(section)
    return sections, failed


def _shown(path: Path) -> str:
    """PATH relative to the project when it is inside it."""
    try:
        return str(path.resolve().relative_to(BASE_DIR))
    except ValueError:
        return str(path)


def filters_section(url: str, args: argparse.Namespace) -> str:
    """Filtered lists through the REST API against their SQL (bench/filters/)."""
    from bench.filters import filters_report, measure_filters

    started = time.perf_counter()
    figures = measure_filters(
        big_tenant(),
        url,
        repeat=args.filter_repeat,
        threads=args.api_threads,
        peer_repeat=args.peer_repeat,
    )
    return f"{filters_report(figures)}\n\n(Filters took {time.perf_counter() - started:.0f} s.)"


def boots_section(url: str, args: argparse.Namespace) -> str:
    """SDK boots under load against the upsert alone (bench/boots/)."""
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
        "--database",
        default=BENCH_DATABASE,
        help=f"Database the bench seeds and measures, on DATABASE_URL's server (default: "
        f"{BENCH_DATABASE}); one per size keeps a 1M and a 10M seed side by side.",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="Skip seeding when the database holds enough contacts."
    )
    parser.add_argument("--skip-lists", action="store_true", help="Skip the list scenarios.")
    parser.add_argument("--skip-filters", action="store_true", help="Skip the filter scenarios.")
    parser.add_argument("--skip-boots", action="store_true", help="Skip the SDK boot load.")
    parser.add_argument(
        "--filter-repeat", type=int, default=20, help="Timed runs per filter scenario."
    )
    parser.add_argument(
        "--peer-repeat",
        type=int,
        default=10,
        help="Timed runs of the peer's SQL per filter scenario (at least 10); 0: not measured.",
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
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS_DIR,
        help="Folder of the report file (default: bench/results).",
    )
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


def database_ensure(source: str, database: str = BENCH_DATABASE) -> None:
    """Create DATABASE on SOURCE's server when missing (nothing else is done there)."""
    try:
        conn = psycopg.connect(bench_database_url(source, MAINTENANCE_DATABASE), autocommit=True)
    except psycopg.OperationalError:  # no maintenance database: ask from the source database
        conn = psycopg.connect(source, autocommit=True)
    with conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(query, [database]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


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


if __name__ == "__main__":
    sys.exit(main())
