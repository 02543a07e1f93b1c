"""Drop the loaded tables' secondary indexes and foreign keys for the load, and restore them."""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction

from bench.seed.sessions import in_threads, session_unbounded

DDL_SQL = """
SELECT format('DROP INDEX %%s', x.indexrelid::regclass), pg_get_indexdef(x.indexrelid), true
FROM pg_index x
WHERE x.indrelid = ANY(%(tables)s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
UNION ALL
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', k.conrelid::regclass, k.conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', k.conrelid::regclass, k.conname,
              pg_get_constraintdef(k.oid)),
       false
FROM pg_constraint k
WHERE k.contype = 'f'
  AND (k.conrelid = ANY(%(tables)s::regclass[]) OR k.confrelid = ANY(%(tables)s::regclass[]))
"""


@dataclass(frozen=True)
class SavedDdl:
    """An index or foreign key dropped for the load, with the statement that restores it."""

    drop: str
    restore: str
    is_index: bool


def ddl_drop(tables: tuple[str, ...]) -> list[SavedDdl]:
    """Drop TABLES' secondary indexes and foreign keys; return how to restore them.

    Foreign keys both ways go: those of the loaded rows (one check per inserted row) and those
    pointing at them (one check per deleted contact in a reset). Restoring validates them all,
    and rebuilding a unique index (the per-channel member and veil ids) checks it again.
    Primary keys and CHECK constraints stay. Every statement comes from the catalogue (names
    quoted by PostgreSQL itself).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DDL_SQL, {"tables": list(tables)})
        saved = [SavedDdl(drop, restore, is_index) for drop, restore, is_index in cursor.fetchall()]
        for item in saved:
            cursor.execute(item.drop)
    return saved


def ddl_restore(saved: list[SavedDdl], workers: int) -> list[str]:
    """Rebuild the indexes in parallel sessions (GIN first: the slowest), then the foreign keys.

    A statement that fails does not stop the others; the failures are returned, each with its
    error.
    """
    indexes = sorted(
        (item for item in saved if item.is_index),
        key=lambda item: ("USING gin" not in item.restore, item.restore),
    )
    pending: queue.Queue[str] = queue.Queue()
    for item in indexes:
        pending.put(item.restore)
    failures: list[str] = []
    # Sessions and parallel build workers share the cores: one build per core in all.
    helpers = max(0, (os.cpu_count() or 2) // workers - 1)
    in_threads(workers, lambda stop: _statements_worker(pending, helpers, failures, stop))
    for item in saved:
        if not item.is_index:
            _statement_run(item.restore, failures)
    return failures


def _statements_worker(
    pending: queue.Queue[str], helpers: int, failures: list[str], stop: threading.Event
) -> None:
    try:
        session_unbounded()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('max_parallel_maintenance_workers', %s, false)", [str(helpers)]
            )
        while not stop.is_set():
            try:
                statement = pending.get_nowait()
            except queue.Empty:
                return
            _statement_run(statement, failures)
    finally:
        connection.close()


def _statement_run(statement: str, failures: list[str]) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    except DatabaseError as error:
        failures.append(f"{statement}: {error}")
