"""Prepared statements for the hottest writes, on the connection Django already holds.

Django binds parameters on the client: psycopg quotes every value into the SQL text, and
PostgreSQL parses and plans each statement anew. That is right for the ORM's varied queries.
The few statements that run on every boot (the schema lock, the contact upsert) are the same
text every time, so they go through a cursor that sends the parameters apart from the SQL
(server-side binding). psycopg then prepares a statement once it has run PREPARE_THRESHOLD
times on a connection (settings.DATABASES OPTIONS, `DB_PREPARE_THRESHOLD`), and PostgreSQL
skips parsing and planning from then on.

Only these cursors prepare: Django's own cursors bind on the client and never do. Behind a
pooler in transaction mode that cannot keep prepared statements, set DB_PREPARE_THRESHOLD=off.
The statements go through Django's cursor wrapper, so query logging, execute wrappers and
error translation see them like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper


@contextmanager
def server_bound_cursor(*, pipeline: bool = False) -> Iterator[CursorWrapper]:
    """A cursor of the default connection that binds on the server (and so can prepare).

    With PIPELINE, what the block sends goes out together and its answers come back together
    (libpq's pipeline mode): the first statement of a transaction travels with its BEGIN, one
    round trip instead of two."""
    # As Django's own cursors do: a reused connection the database dropped is replaced here
    # (CONN_HEALTH_CHECKS), not found dead by the request's first statement.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # The stubs type the argument of make_cursor as a wrapper; Django passes a DB-API cursor.
        raw: Any = psycopg.Cursor(connection.connection)
    cursor: CursorWrapper
    if connection.queries_logged:
        cursor = connection.make_debug_cursor(raw)
    else:
        cursor = connection.make_cursor(raw)
    try:
        if pipeline:
            with connection.wrap_database_errors, connection.connection.pipeline():
                yield cursor
        else:
            yield cursor
    finally:
        cursor.close()
