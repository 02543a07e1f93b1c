"""Per-key B-tree expression indexes on profile values, for ranges and sorting on a key.

    CREATE INDEX CONCURRENTLY IF NOT EXISTS contact_pf_<channel>_<key>_<hash>
        ON contacts_contact ((profile -> '<key>') DESC NULLS LAST, id DESC)
        WHERE channel_id = <channel>

The value leads: the predicate already holds the channel, so the planner drops the query's
`channel_id = <channel>` condition as implied, and a range on the value is the index's first
column, which every PostgreSQL reads as a range. (An index led by `channel_id` would leave the
range on its second column with no condition on the first: PostgreSQL 18 skip-scans it, 17 and
older read the whole index.) An index of the older shape counts as unsettled and is rebuilt.

The field's `indexed` flag is the truth and the database follows it: the services record the
state `pending` and start an `indexBuild` job in the same transaction (index_build_start); the
job runs index_sync, which builds or drops the index and records `ready`, `none` or `failed`.
The periodic task and `manage.py profile_indexes_sync` converge whatever is left unsettled. The
decisions are in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Q
from psycopg import sql

from crm.jobs.models import ACTIVE_STATES, Job, JobKind, JobState
from crm.jobs.services import job_start
from profile_schema.ddl import (
    CONTACT_TABLE,
    ddl_cursor,
    ddl_lock,
    ddl_run,
    identifier_for,
)
from profile_schema.models import PROFILE_PREFIX, IndexState, ProfileField
from profile_schema.types import IndexKind, type_spec

logger = logging.getLogger(__name__)

INDEX_PREFIX = "contact_pf_"
# Whether an index (pg_index AS i) can serve: valid, and of the current shape, led by the value
# (an expression: indkey 0) rather than by channel_id as the first indexes were.
_USABLE = "i.indisvalid AND i.indkey[0] = 0"


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
    return identifier_for(f"{INDEX_PREFIX}{channel_id}_", key)


def index_create_sql(*, name: str, channel_id: int, key: str) -> sql.Composed:
    """CREATE INDEX CONCURRENTLY of the bare or full KEY for the channel, quoted for DDL."""
    return sql.SQL(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
        "((profile -> {key}) DESC NULLS LAST, id DESC) WHERE channel_id = {channel}"
    ).format(
        name=sql.Identifier(name),
        table=sql.Identifier(CONTACT_TABLE),
        key=sql.Literal(key.removeprefix(PROFILE_PREFIX)),
        channel=sql.Literal(int(channel_id)),
    )


def index_drop_sql(*, name: str) -> sql.Composed:
    """DROP INDEX CONCURRENTLY of NAME, quoted for DDL."""
    return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {name}").format(name=sql.Identifier(name))


def index_sync(*, name: str) -> IndexSync:
    """Make index NAME match its field's flag (build, rebuild, drop) and record the state."""
    with ddl_cursor() as cursor:
        # One sync of a name at a time (job or command); the flag is read once it is ours.
        ddl_lock(cursor, name)
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


def index_build_start(*, field: ProfileField) -> Job:
    """Start the `indexBuild` job that syncs FIELD's index (queued once the current transaction
    commits), in the transaction that records the flag. A job of the index still queued serves
    instead, as it reads the flag when it runs: its row stays locked until this transaction
    ends, so no worker claims it before the flag is in."""
    queued = (
        Job.objects.select_for_update()
        .filter(
            channel_id=field.channel_id,
            kind=JobKind.INDEX_BUILD,
            state=JobState.QUEUED,
            params__name=field.index_name,
        )
        .first()
    )
    if queued is not None:
        return queued
    params = {"name": field.index_name, "key": field.key}
    return job_start(
        channel=field.channel, kind=JobKind.INDEX_BUILD, params=params, requested_by=None
    )


def indexes_unsettled() -> tuple[list[ProfileField], list[str]]:
    """What the periodic converge starts jobs for: the fields whose index does not match their
    flag and no unfinished job is building (a failed build waits for a person), and the names
    of the indexes present that no field names."""
    present = _indexes_validity()
    busy = set(
        Job.objects.filter(kind=JobKind.INDEX_BUILD, state__in=ACTIVE_STATES).values_list(
            "params__name", flat=True
        )
    )
    unsettled, named = [], set()
    for field in ProfileField.objects.exclude(index_name="").select_related("channel"):
        named.add(field.index_name)
        if field.index_name in busy or field.index_state == IndexState.FAILED:
            continue
        if not _settled(field, present.get(field.index_name)):
            unsettled.append(field)
    return unsettled, sorted(set(present) - named - busy)


def _settled(field: ProfileField, valid: bool | None) -> bool:
    """Whether FIELD's index (VALID: None when absent, else whether it is usable) and recorded
    state match its flag."""
    if field.indexed:
        return valid is True and field.index_state == IndexState.READY
    return valid is None and field.index_state == IndexState.NONE


def _indexes_validity() -> dict[str, bool]:
    """Each per-key index of the contacts table, by name: whether it is usable (_USABLE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.relname, {_USABLE} FROM pg_index i "  # noqa: S608 - a constant
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND t.relname = %s AND starts_with(c.relname, %s)",
            [CONTACT_TABLE, INDEX_PREFIX],
        )
        return {name: bool(valid) for name, valid in cursor.fetchall()}


def _converge(cursor: Any, name: str, field: ProfileField | None) -> str:
    """Build, rebuild or drop index NAME so it exists (usable) exactly when FIELD is given."""
    valid = _validity(cursor, name)
    if field is None:
        if valid is None:
            return "absent"
        ddl_run(cursor, index_drop_sql(name=name))
        return "dropped"
    if valid:
        return "kept"
    if valid is False:  # an interrupted build's INVALID leftover, or an index of the old shape
        ddl_run(cursor, index_drop_sql(name=name))
    ddl_run(cursor, index_create_sql(name=name, channel_id=field.channel_id, key=field.key))
    return "built"


def _validity(cursor: Any, name: str) -> bool | None:
    """None when index NAME does not exist, else whether it is usable (_USABLE)."""
    cursor.execute(
        f"SELECT {_USABLE} FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "  # noqa: S608
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND n.nspname = current_schema()",
        [name],
    )
    row = cursor.fetchone()
    return None if row is None else bool(row[0])


def _invalid_drop(cursor: Any, name: str) -> None:
    try:
        if _validity(cursor, name) is False:
            ddl_run(cursor, index_drop_sql(name=name))
    except DatabaseError:
        logger.warning("Profile index %s: the invalid leftover stays", name, exc_info=True)


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
