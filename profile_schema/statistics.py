"""Planner statistics on the profile keys of range-capable fields (Number, Date, Datetime).

One `CREATE STATISTICS contact_ps_<key>_<hash> ON ((profile -> '<key>'))` per distinct key
across channels, whether the field is marked indexed or not: without it the planner guesses a
third of the rows for any range on a key. `statistics_sync` converges them all; after a field
change commits, the field services queue it as a task (statistics_sync_on_commit; one run waits
at a time), and the periodic task and `manage.py profile_indexes_sync` run it too. The decisions
are in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django_tasks import task
from psycopg import sql

from crm.jobs.queue import task_enqueue_once
from profile_schema.ddl import (
    CONTACT_TABLE,
    LOCK_NOT_AVAILABLE,
    LOCK_RETRY_SECONDS,
    ddl_cursor,
    ddl_lock,
    ddl_run,
    identifier_for,
)
from profile_schema.models import PROFILE_PREFIX, FieldType, ProfileField
from profile_schema.types import type_spec

logger = logging.getLogger(__name__)

STATISTICS_PREFIX = "contact_ps_"
# A type whose operators include one of these wants statistics on its key.
RANGE_OPERATORS = frozenset({"gt", "gte", "lt", "lte", "between"})
# How long the statistics DDL waits for the table's lock before it lets go and tries again.
STATISTICS_LOCK_TIMEOUT = "100ms"
STATISTICS_DROP_TRIES = 25  # about 7 s of a busy table before a drop is left to the command
STATISTICS_TASK = "profile_schema.statistics"  # the name its queued run goes by


@dataclass(frozen=True)
class StatisticsSync:
    """What one sync did to statistics object NAME: created, kept, dropped or failed."""

    name: str
    action: str
    key: str = ""  # the full key; "" for an object no field wants
    error: str = ""

    def __str__(self) -> str:
        what = self.key or "no field"
        error = f": {self.error}" if self.error else ""
        return f"{self.action} statistics {self.name} ({what}){error}"


def statistics_supported(type_: str) -> bool:
    """Whether a field of TYPE_ wants planner statistics on its key: its operators compare
    ranges (Number, Date, Datetime)."""
    return bool(RANGE_OPERATORS & set(type_spec(type_).operators))


def statistics_name_for(key: str) -> str:
    """The statistics object of the full or bare KEY (all channels): deterministic, <= 63."""
    return identifier_for(STATISTICS_PREFIX, key)


def statistics_create_sql(*, key: str) -> sql.Composed:
    """CREATE STATISTICS on the full or bare KEY's expression (PostgreSQL 14+)."""
    return sql.SQL(
        "CREATE STATISTICS IF NOT EXISTS {name} ON ((profile -> {key})) FROM {table}"
    ).format(
        name=sql.Identifier(statistics_name_for(key)),
        key=sql.Literal(key.removeprefix(PROFILE_PREFIX)),
        table=sql.Identifier(CONTACT_TABLE),
    )


def statistics_drop_sql(*, name: str) -> sql.Composed:
    """DROP STATISTICS of NAME, quoted for DDL."""
    return sql.SQL("DROP STATISTICS IF EXISTS {name}").format(name=sql.Identifier(name))


def statistics_keys() -> list[str]:
    """The full keys that fields of a range-capable type define, in any channel."""
    types = [type_ for type_ in FieldType.values if statistics_supported(type_)]
    keys = ProfileField.objects.filter(
        type__in=types, built_in=False, key__startswith=PROFILE_PREFIX
    ).values_list("key", flat=True)
    return sorted(set(keys))


def statistics_present() -> list[str]:
    """Names of the statistics objects on the contacts table under our prefix."""
    with connection.cursor() as cursor:
        return _statistics_present(cursor)


def statistics_sync() -> list[StatisticsSync]:
    """Create the statistics object of every key statistics_keys() names, drop the others
    under the prefix, and ANALYZE the profile column when one was created."""
    outcomes: list[StatisticsSync] = []
    with ddl_cursor() as cursor:
        ddl_lock(cursor, STATISTICS_PREFIX)  # no index name equals the prefix
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", [STATISTICS_LOCK_TIMEOUT])
        wanted = {statistics_name_for(key): key for key in statistics_keys()}
        present = set(_statistics_present(cursor))
        for name in sorted(wanted.keys() | present):
            key = wanted.get(name, "")
            if key and name in present:
                outcomes.append(StatisticsSync(name=name, action="kept", key=key))
                continue
            outcomes.append(_statistics_change(cursor, name, key))
        if any(outcome.action == "created" for outcome in outcomes):
            try:
                _run_unblocking(
                    cursor, sql.SQL("ANALYZE {} (profile)").format(sql.Identifier(CONTACT_TABLE))
                )
            except DatabaseError:  # the statistics fill at the next (auto)analyze
                logger.warning("Profile statistics: ANALYZE failed", exc_info=True)
    return outcomes


def statistics_sync_on_commit(*types: str) -> None:
    """Queue a statistics sync after the current transaction commits when a field of one of
    TYPES was created, retyped (old and new type) or deleted: the hook of the field services."""
    if any(statistics_supported(type_) for type_ in types):
        transaction.on_commit(statistics_sync_request, robust=True)


def statistics_sync_request() -> bool:
    """Queue a run of statistics_sync unless one waits for a worker already (it will read the
    fields when it runs): 200 fields created in a row make one or two runs, not 200."""
    return task_enqueue_once(name=STATISTICS_TASK, task=statistics_sync_task)


@task()
def statistics_sync_task() -> str:
    """The Django task of statistics_sync: what it changed, in a line (failures logged)."""
    outcomes = statistics_sync()
    for outcome in outcomes:
        if outcome.action == "failed":
            logger.warning("Profile %s", outcome)
    changed = [str(outcome) for outcome in outcomes if outcome.action != "kept"]
    return "; ".join(changed) or f"{len(outcomes)} statistics in sync"


def _statistics_present(cursor: Any) -> list[str]:
    cursor.execute(
        "SELECT s.stxname FROM pg_statistic_ext s "
        "JOIN pg_namespace n ON n.oid = s.stxnamespace "
        "JOIN pg_class c ON c.oid = s.stxrelid "
        "WHERE n.nspname = current_schema() AND c.relname = %s "
        "AND starts_with(s.stxname, %s) ORDER BY s.stxname",
        [CONTACT_TABLE, STATISTICS_PREFIX],
    )
    return [row[0] for row in cursor.fetchall()]


def _statistics_change(cursor: Any, name: str, key: str) -> StatisticsSync:
    """Create the statistics of KEY, or drop NAME when KEY is ""."""
    try:
        if key:
            _run_unblocking(cursor, statistics_create_sql(key=key))
        else:
            statistics_drop(cursor, name)
    except DatabaseError as error:
        logger.warning("Profile statistics %s: %s", name, error)
        return StatisticsSync(name=name, action="failed", key=key, error=str(error).strip())
    return StatisticsSync(name=name, action="created" if key else "dropped", key=key)


def statistics_drop(cursor: Any, name: str) -> None:
    """DROP STATISTICS NAME in a transaction that holds ACCESS EXCLUSIVE on the contacts table.

    A plain DROP STATISTICS takes no lock that stops a query being planned on the table, and a
    planner that listed the object a moment before fails with "cache lookup failed for
    statistics object". Holding the table for the drop keeps them out; each try waits at most
    the lock_timeout (100 ms), during which the table's other users queue behind it. After
    STATISTICS_DROP_TRIES busy tries it gives up (the lock error): the command tries later."""
    lock = sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(CONTACT_TABLE))
    for tries_left in range(STATISTICS_DROP_TRIES - 1, -1, -1):
        try:
            with cursor.connection.transaction():
                ddl_run(cursor, lock)
                ddl_run(cursor, statistics_drop_sql(name=name))
            return
        except DatabaseError as error:
            if not tries_left or getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
        time.sleep(LOCK_RETRY_SECONDS)


def _run_unblocking(cursor: Any, statement: sql.Composable) -> None:
    """Run STATEMENT, trying again while the table's lock is taken (see the lock_timeout):
    waiting for it while holding a snapshot that CREATE INDEX CONCURRENTLY waits for would
    deadlock."""
    while True:
        try:
            ddl_run(cursor, statement)
            return
        except DatabaseError as error:
            if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
        time.sleep(LOCK_RETRY_SECONDS)
