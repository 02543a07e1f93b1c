"""Database sessions of the generator: limits lifted, work spread over threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from django.db import connection


def session_unbounded() -> None:
    """Lift this thread's session limits: no statement timeout, big memory for index builds."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        # A lost seed is re-run, never half-trusted: no need to wait for each WAL flush.
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '1GB'")


def in_threads(count: int, work: Callable[[threading.Event], None]) -> None:
    """Run WORK in COUNT threads (one database session each); the first error stops them all."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, stop) for _ in range(count)]
        try:
            for future in as_completed(futures):
                if future.exception() is not None:
                    stop.set()
        except BaseException:  # Ctrl-C: let the sessions finish their statement, then stop
            stop.set()
            raise
        for future in futures:
            future.result()


def tables_vacuum(tables: tuple[str, ...], *, analyze: bool = False) -> None:
    """VACUUM TABLES; with ANALYZE, statistics for the planner too.

    Without their indexes, a VACUUM after a reset is one pass over the heap that returns the
    space; after the load, it writes the visibility map so counts can use index-only scans.
    """
    names = ", ".join(map(connection.ops.quote_name, tables))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {'(ANALYZE) ' if analyze else ''}{names}")
