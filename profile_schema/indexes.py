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

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.models import Q
from psycopg import sql

from profile_schema.models import IndexState, ProfileField
from profile_schema.types import IndexKind, type_spec

logger = logging.getLogger(__name__)

INDEX_PREFIX = "contact_pf_"
MAX_IDENTIFIER_LENGTH = 63
CONTACT_TABLE = "contacts_contact"
PROFILE_PREFIX = "profile."
# First key of the two-key advisory locks taken on an index name ("pf" in ASCII).
_LOCK_NAMESPACE = 0x7066
LOCK_RETRY_SECONDS = 0.2
_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


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


def _statistics_name(index_name: str) -> str:
    return "contact_ps_" + hashlib.sha256(index_name.encode()).hexdigest()[:20]


def statistics_create_sql(*, name: str, key: str) -> sql.Composed:
    """CREATE STATISTICS on the key's expression (PostgreSQL 14+), named after the index."""
    return sql.SQL(
        "CREATE STATISTICS IF NOT EXISTS {name} ON ((profile -> {key})) FROM {table}"
    ).format(
        name=sql.Identifier(_statistics_name(name)),
        key=sql.Literal(key.removeprefix("profile.")),
        table=sql.Identifier("contacts_contact"),
    )


def statistics_drop_sql(*, name: str) -> sql.Composed:
    """DROP STATISTICS of the index NAME's key."""
    return sql.SQL("DROP STATISTICS IF EXISTS {name}").format(
        name=sql.Identifier(_statistics_name(name))
    )


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


def index_sync_start(name: str) -> None:
    """Sync index NAME in a background thread (call it on commit; never raises)."""
    thread = threading.Thread(
        target=_sync_in_thread, args=(name,), name=f"profile-index:{name}", daemon=True
    )
    with _threads_lock:
        _threads.add(thread)
    thread.start()


def index_syncs_wait(timeout: float | None = None) -> None:
    """Wait for the background syncs started so far (tests, graceful shutdown)."""
    with _threads_lock:
        running = list(_threads)
    for thread in running:
        thread.join(timeout)


def _sync_in_thread(name: str) -> None:
    try:
        index_sync(name=name)
    except Exception:
        # The state stays pending; profile_indexes_sync converges it later.
        logger.exception("Profile index %s: the background sync failed", name)
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
        _run(cursor, statistics_drop_sql(name=name))
        if valid is None:
            return "absent"
        _run(cursor, index_drop_sql(name=name))
        return "dropped"
    if valid:
        _run(cursor, statistics_create_sql(name=name, key=field.key))  # older builds lacked it
        return "kept"
    if valid is False:  # a build that was interrupted leaves an INVALID index behind
        _run(cursor, index_drop_sql(name=name))
    _run(cursor, index_create_sql(name=name, channel_id=field.channel_id, key=field.key))
    _statistics_build(cursor, name, field.key)
    return "built"


def _statistics_build(cursor: Any, name: str, key: str) -> None:
    """Statistics on the key's values, so the planner knows how selective a range is.

    A partial expression index gathers none of its own; without them a narrow range looks
    like a third of the table and the planner walks the list order instead of the index."""
    _run(cursor, statistics_create_sql(name=name, key=key))
    _run(cursor, sql.SQL("ANALYZE contacts_contact"))


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
