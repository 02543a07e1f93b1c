"""Per-key B-tree expression indexes on profile values (ARCHITECTURE rule 5).

Ranges and sorting on `profile.<key>` are served by one index per marked field:

    CREATE INDEX CONCURRENTLY IF NOT EXISTS contact_pf_<channel>_<key>_<hash>
        ON contacts_contact (channel_id, (profile -> '<key>') DESC NULLS LAST, id DESC)
        WHERE channel_id = <channel>

It leads with channel_id like every contact index (rule 1), and the predicate keeps it to the
one channel that asked for it. The filter compiler writes ranges as `(profile -> 'key') > value`,
the same expression, so the planner can use it; with bound parameters the planner proves the
predicate only on a custom plan (Django binds client-side, so literals reach it).

Decisions:
- The flag (`ProfileField.indexed`) is the truth; the database follows it. Marking or unmarking
  records `index_state = pending`; after commit a background thread makes the database match
  (`index_sync`), and records `ready`, `none` or `failed` with the error. A process that dies
  mid-build leaves the state pending and maybe an INVALID index: `manage.py
  profile_indexes_sync` (run it after deploys or from cron) converges every index, drops
  leftovers and orphans, and is the durable path.
- Builds run with `CONCURRENTLY`, so writes to contacts never wait for them; that cannot run in
  a transaction, so they use a connection of their own, in autocommit, with statement_timeout
  lifted (a large channel takes minutes). A per-name advisory lock serialises the thread and the
  command, so two syncs of one index never race; each re-reads the flag once it holds the lock
  (polled with pg_try_advisory_lock: see _lock).
- The name is deterministic and at most 63 characters: the channel id, the key lowercased and
  cut to fit, and 8 hex digits of the key's SHA-256, since keys differing only in case
  (`userId`, `userID`) are distinct keys.
- DDL takes no bound parameters: the key is quoted as a SQL literal and the name as an
  identifier with psycopg.sql, although keys are checked camelCase letters and digits already.

Planner statistics on profile keys, a function of the type (not of the flag):

    CREATE STATISTICS IF NOT EXISTS contact_ps_<key>_<hash> ON ((profile -> '<key>'))
        FROM contacts_contact

- Without them the planner takes a third of the rows for any range on a key (`profile ->
  'points' > 100000`), indexed or not: a partial expression index gathers no statistics of its
  own. Measured at 1M contacts (a 600,000-contact tenant): `points >= 99,000` was estimated at
  200,062 rows (1,017 match), and `gender = female AND lastSeenAt within 30 days AND points >
  100,000` walked the visit index for 1.1 to 1.4 s; with a statistics object on the expression
  the estimate is 1,349 to 1,361 and the same page takes 425 to 675 ms (a bitmap of the GIN
  index, or a scan) without any per-key index.
- So every key that a Number, Date or Datetime field defines (the types whose operators compare
  ranges: `statistics_supported`) has one, whether marked indexed or not. String, Boolean and
  List filters are equality, containment and text search, which the profile's GIN and trigram
  indexes estimate from their own operators.
- A statistics object belongs to the table, not to a channel, so there is one per distinct key
  across all channels, named after the key alone (deterministic, <= 63 characters, the key cut
  to fit plus 8 hex digits of its SHA-256). It exists while a field of such a type defines the
  key in any channel and is dropped when none does; objects under the prefix that no field
  wants (older per-index names included) are dropped.
- `statistics_sync` converges all of them at once (two catalogue reads when nothing changes),
  under one advisory lock; after creating any it runs `ANALYZE contacts_contact (profile)`,
  which fills extended statistics too. It runs after commit in a background thread:
  `statistics_sync_on_commit` is the hook for the field services, when a field of such a type is
  created (presets included), retyped from or to one, or deleted; every background index sync
  runs it after the index. `manage.py profile_indexes_sync` runs it too (the durable path).
- CREATE STATISTICS and ANALYZE take SHARE UPDATE EXCLUSIVE on the table, like CREATE INDEX
  CONCURRENTLY, and must not wait for one while holding a snapshot that the build waits for: it
  asks with a short lock_timeout (100 ms) and tries again, so it never waits long enough for a
  deadlock. Reads and writes of contacts do not wait for either.
- DROP STATISTICS runs holding ACCESS EXCLUSIVE on the table (`statistics_drop`): without it a
  query planned at the same moment can fail ("cache lookup failed for statistics object"). So
  a drop makes the table's users wait up to 100 ms per try; it happens only when the last
  field of a key goes or changes type.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import Q
from psycopg import sql

from profile_schema.models import FieldType, IndexState, ProfileField
from profile_schema.types import IndexKind, type_spec

logger = logging.getLogger(__name__)

INDEX_PREFIX = "contact_pf_"
MAX_IDENTIFIER_LENGTH = 63
CONTACT_TABLE = "contacts_contact"
PROFILE_PREFIX = "profile."
STATISTICS_PREFIX = "contact_ps_"
# A type whose operators include one of these wants statistics on its key.
RANGE_OPERATORS = frozenset({"gt", "gte", "lt", "lte", "between"})
# First key of the two-key advisory locks taken on an index name ("pf" in ASCII); the
# statistics sync takes the one of its prefix, which no index name equals.
_LOCK_NAMESPACE = 0x7066
LOCK_RETRY_SECONDS = 0.2
# How long the statistics DDL waits for the table's lock before it lets go and tries again.
STATISTICS_LOCK_TIMEOUT = "100ms"
STATISTICS_DROP_TRIES = 25  # about 7 s of a busy table before a drop is left to the command
_LOCK_NOT_AVAILABLE = "55P03"
_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()
# At most one statistics sync thread at a time; a start while it runs makes it run once more.
_statistics_thread: threading.Thread | None = None
_statistics_again = False


@dataclass(frozen=True)
class IndexSync:
    """What one sync did to index NAME: built, kept, dropped, absent (nothing to do), failed."""

    name: str
    action: str
    key: str = ""  # the field's full key; "" for an index no field names
    channel_id: int | None = None
    error: str = ""

    def __str__(self) -> str:
        what = f"{self.key} of channel {self.channel_id}" if self.key else "no field"
        error = f": {self.error}" if self.error else ""
        return f"{self.action} {self.name} ({what}){error}"


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


def index_supported(type_: str) -> bool:
    """Whether a field of TYPE_ gains from a per-key index (its ranges and sorting)."""
    return IndexKind.EXPRESSION_BTREE in type_spec(type_).indexes


def index_name_for(*, channel_id: int, key: str) -> str:
    """The index name of the full or bare KEY in the channel: deterministic, <= 63 chars."""
    bare = key.removeprefix(PROFILE_PREFIX)
    digest = hashlib.sha256(bare.encode()).hexdigest()[:8]
    head = f"{INDEX_PREFIX}{channel_id}_"
    room = MAX_IDENTIFIER_LENGTH - len(head) - len(digest) - 1
    return f"{head}{bare.lower()[:room]}_{digest}"


def index_create_sql(*, name: str, channel_id: int, key: str) -> sql.Composed:
    """CREATE INDEX CONCURRENTLY of the bare or full KEY for the channel, quoted for DDL."""
    return sql.SQL(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
        "(channel_id, (profile -> {key}) DESC NULLS LAST, id DESC) WHERE channel_id = {channel}"
    ).format(
        name=sql.Identifier(name),
        table=sql.Identifier(CONTACT_TABLE),
        key=sql.Literal(key.removeprefix(PROFILE_PREFIX)),
        channel=sql.Literal(int(channel_id)),
    )


def statistics_supported(type_: str) -> bool:
    """Whether a field of TYPE_ wants planner statistics on its key: its operators compare
    ranges (Number, Date, Datetime)."""
    return bool(RANGE_OPERATORS & set(type_spec(type_).operators))


def statistics_name_for(key: str) -> str:
    """The statistics object of the full or bare KEY (all channels): deterministic, <= 63."""
    bare = key.removeprefix(PROFILE_PREFIX)
    digest = hashlib.sha256(bare.encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER_LENGTH - len(STATISTICS_PREFIX) - len(digest) - 1
    return f"{STATISTICS_PREFIX}{bare.lower()[:room]}_{digest}"


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


def index_drop_sql(*, name: str) -> sql.Composed:
    """DROP INDEX CONCURRENTLY of NAME, quoted for DDL."""
    return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {name}").format(name=sql.Identifier(name))


def index_sync(*, name: str) -> IndexSync:
    """Make index NAME match its field's flag (build, rebuild, drop) and record the state."""
    with _ddl_cursor() as cursor:
        _lock(cursor, name)
        field = ProfileField.objects.filter(index_name=name).first()
        wanted = field is not None and field.indexed
        found = IndexSync(
            name=name,
            action="",
            key=field.key if field else "",
            channel_id=field.channel_id if field else None,
        )
        try:
            action = _converge(cursor, name, field if wanted else None)
        except DatabaseError as error:
            _invalid_drop(cursor, name)
            logger.warning("Profile index %s: %s", name, error)
            _record(field, wanted=wanted, state=IndexState.FAILED, error=str(error).strip())
            return replace(found, action="failed", error=str(error).strip())
        _record(field, wanted=wanted, state=IndexState.READY if wanted else IndexState.NONE)
        return replace(found, action=action)


def indexes_sync_all() -> list[IndexSync]:
    """Sync every index a field names or the table holds under our prefix (orphans dropped)."""
    _names_fill()
    unsettled = Q(indexed=True) | ~Q(index_state=IndexState.NONE)
    named = ProfileField.objects.exclude(index_name="").filter(unsettled)
    names = set(named.values_list("index_name", flat=True)) | set(indexes_present())
    return [index_sync(name=name) for name in sorted(names)]


def indexes_present() -> list[str]:
    """Names of the per-key indexes the contacts table holds now (valid or not)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s AND starts_with(indexname, %s) ORDER BY indexname",
            [CONTACT_TABLE, INDEX_PREFIX],
        )
        return [row[0] for row in cursor.fetchall()]


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
    with _ddl_cursor() as cursor:
        _lock(cursor, STATISTICS_PREFIX)
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


def statistics_sync_start() -> None:
    """Run statistics_sync in a background thread (call it on commit; never raises).

    Starts coalesce: while the thread runs, any number of starts make it run once more after
    it finishes (200 fields created in a row take two or three syncs, not 200 threads)."""
    global _statistics_thread, _statistics_again
    with _threads_lock:
        if _statistics_thread is not None:
            _statistics_again = True
            return
        thread = threading.Thread(
            target=_statistics_sync_in_thread, name="profile-statistics", daemon=True
        )
        _statistics_thread = thread
        _threads.add(thread)
    thread.start()


def statistics_sync_on_commit(*types: str) -> None:
    """Sync the statistics after the current transaction commits when a field of one of TYPES
    was created, retyped (old and new type) or deleted: the hook of the field services."""
    if any(statistics_supported(type_) for type_ in types):
        transaction.on_commit(statistics_sync_start)


def _statistics_sync_in_thread() -> None:
    global _statistics_thread, _statistics_again
    try:
        while True:
            _statistics_sync_logged()
            with _threads_lock:
                if not _statistics_again:
                    _statistics_thread = None
                    break
                _statistics_again = False
    finally:
        connections.close_all()  # this thread's connections only
        with _threads_lock:
            if _statistics_thread is threading.current_thread():
                _statistics_thread = None  # left by an error: the next start begins afresh
            _threads.discard(threading.current_thread())


def _statistics_sync_logged() -> None:
    """statistics_sync for a background thread: failures are logged, never raised."""
    try:
        for outcome in statistics_sync():
            if outcome.action == "failed":
                logger.warning("Profile %s", outcome)
    except Exception:
        # profile_indexes_sync converges them later.
        logger.exception("Profile statistics: the background sync failed")


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
    statistics object" (reproduced on PostgreSQL 15 and 18: 33 of 5,000 drops under three
    looping readers). Holding the table for the drop keeps them out; each try waits at most the
    lock_timeout (100 ms), during which the table's other users queue behind it. After
    STATISTICS_DROP_TRIES busy tries it gives up (the lock error): the command tries later."""
    for tries_left in range(STATISTICS_DROP_TRIES - 1, -1, -1):
        try:
            with cursor.connection.transaction():
                _run(
                    cursor,
                    sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                        sql.Identifier(CONTACT_TABLE)
                    ),
                )
                _run(cursor, statistics_drop_sql(name=name))
            return
        except DatabaseError as error:
            if not tries_left or getattr(error.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
        time.sleep(LOCK_RETRY_SECONDS)


def _run_unblocking(cursor: Any, statement: sql.Composable) -> None:
    """Run STATEMENT, trying again while the table's lock is taken (see the lock_timeout)."""
    while True:
        try:
            _run(cursor, statement)
            return
        except DatabaseError as error:
            if getattr(error.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
        time.sleep(LOCK_RETRY_SECONDS)


def index_sync_start(name: str) -> None:
    """Sync index NAME in a background thread (call it on commit; never raises)."""
    thread = threading.Thread(
        target=_sync_in_thread, args=(name,), name=f"profile-index:{name}", daemon=True
    )
    with _threads_lock:
        _threads.add(thread)
    thread.start()


def index_syncs_wait(timeout: float | None = None) -> None:
    """Wait for the background syncs, those they start included (tests, graceful shutdown)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _threads_lock:
            running = [t for t in _threads if t is not threading.current_thread()]
        if not running:
            return
        for thread in running:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if deadline is not None and time.monotonic() >= deadline:
            return


def _sync_in_thread(name: str) -> None:
    try:
        try:
            index_sync(name=name)
        except Exception:
            # The state stays pending; profile_indexes_sync converges it later.
            logger.exception("Profile index %s: the background sync failed", name)
        # The field behind a marked or unmarked index may be new or gone: the statistics follow
        # on the same path (a no-op when they match already).
        statistics_sync_start()
    finally:
        connections.close_all()  # this thread's connections only
        with _threads_lock:
            _threads.discard(threading.current_thread())


@contextmanager
def _ddl_cursor() -> Iterator[Any]:
    """A cursor on a new autocommit connection without a statement timeout."""
    ddl = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with ddl.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
            yield cursor
    finally:
        ddl.close()  # also releases the advisory lock


def _lock(cursor: Any, name: str) -> None:
    """Take the advisory lock of index NAME, trying again until it is free.

    Not pg_advisory_lock: a session waiting inside that statement holds a snapshot, and the
    holder's CREATE INDEX CONCURRENTLY waits for every older snapshot to go: a deadlock."""
    while True:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [_LOCK_NAMESPACE, name])
        if cursor.fetchone()[0]:
            return
        time.sleep(LOCK_RETRY_SECONDS)


def _converge(cursor: Any, name: str, field: ProfileField | None) -> str:
    """Build, rebuild or drop index NAME so it exists (valid) exactly when FIELD is given."""
    valid = _validity(cursor, name)
    if field is None:
        if valid is None:
            return "absent"
        _run(cursor, index_drop_sql(name=name))
        return "dropped"
    if valid:
        return "kept"
    if valid is False:  # a build that was interrupted leaves an INVALID index behind
        _run(cursor, index_drop_sql(name=name))
    _run(cursor, index_create_sql(name=name, channel_id=field.channel_id, key=field.key))
    return "built"


def _validity(cursor: Any, name: str) -> bool | None:
    """None when index NAME does not exist, else whether it is valid (usable)."""
    cursor.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND n.nspname = current_schema()",
        [name],
    )
    row = cursor.fetchone()
    return None if row is None else bool(row[0])


def _invalid_drop(cursor: Any, name: str) -> None:
    try:
        if _validity(cursor, name) is False:
            _run(cursor, index_drop_sql(name=name))
    except DatabaseError:
        logger.warning("Profile index %s: the invalid leftover stays", name, exc_info=True)


def _run(cursor: Any, statement: sql.Composable) -> None:
    cursor.execute(statement.as_string(cursor.connection))


def _record(field: ProfileField | None, *, wanted: bool, state: str, error: str = "") -> None:
    """Record STATE on FIELD unless its flag changed meanwhile (that change's sync records)."""
    if field is None:
        return
    ProfileField.objects.filter(pk=field.pk, indexed=wanted).update(
        index_state=state, index_error=error
    )


def _names_fill() -> None:
    """Give a name to marked fields that lack one (rows flagged outside the services)."""
    for field in ProfileField.objects.filter(indexed=True, index_name=""):
        name = index_name_for(channel_id=field.channel_id, key=field.key)
        ProfileField.objects.filter(pk=field.pk).update(index_name=name)
