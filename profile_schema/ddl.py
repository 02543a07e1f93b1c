"""DDL on the contacts table (indexes, statistics): a connection of its own, locks, names.

profile_schema does not import contacts: the values it indexes, analyses and rewrites are the
`profile` jsonb column of the `contacts_contact` table, keyed by bare keys. That table and
column are the interface between the two apps, named here and in stored_values.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from profile_schema.models import PROFILE_PREFIX

CONTACT_TABLE = "contacts_contact"
MAX_IDENTIFIER_LENGTH = 63
LOCK_RETRY_SECONDS = 0.2
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout that ran out
# First key of the two-key advisory locks taken on a name ("pf" in ASCII).
_LOCK_NAMESPACE = 0x7066


def identifier_for(head: str, key: str) -> str:
    """HEAD, then the full or bare KEY lowercased and cut to fit, then 8 hex digits of the key's
    SHA-256: deterministic, at most 63 characters, and keys differing in case stay apart."""
    bare = key.removeprefix(PROFILE_PREFIX)
    digest = hashlib.sha256(bare.encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER_LENGTH - len(head) - len(digest) - 1
    return f"{head}{bare.lower()[:room]}_{digest}"


@contextmanager
def ddl_cursor() -> Iterator[Any]:
    """A cursor on a new autocommit connection without a statement timeout."""
    ddl = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with ddl.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
            yield cursor
    finally:
        ddl.close()  # also releases the advisory lock


def ddl_lock(cursor: Any, name: str) -> None:
    """Take the session's advisory lock of NAME, trying again until it is free.

    Not pg_advisory_lock: a session waiting inside that statement holds a snapshot, and the
    holder's CREATE INDEX CONCURRENTLY waits for every older snapshot to go: a deadlock."""
    while True:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [_LOCK_NAMESPACE, name])
        if cursor.fetchone()[0]:
            return
        time.sleep(LOCK_RETRY_SECONDS)


def ddl_run(cursor: Any, statement: sql.Composable) -> None:
    """Run STATEMENT, composed with psycopg.sql since DDL takes no bound parameters."""
    cursor.execute(statement.as_string(cursor.connection))
