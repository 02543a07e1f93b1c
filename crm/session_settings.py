"""PostgreSQL settings for one block of statements: a list page's timeout and memory, a count's
timeout.

`set_config(name, value, true)` lasts until the end of the transaction, not of the block. When
the block opens the transaction, that is the same thing. When a caller already holds one (an
export, a service that lists inside its own transaction), the block runs in a savepoint and the
setting would outlive it: a 200 ms count timeout would then bound the caller's later statements.
So a nested block reads the values it replaces in the same statement that sets them, and puts
them back when it ends. A block that fails needs nothing put back: rolling back to the
savepoint undoes its settings. A test case's own wrapping transaction does not count as a
caller's, as Django's check of durable blocks does not count it: the tests see the statements
a request sends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper


@contextmanager
def settings_for_block(
    values: Mapping[str, str], *, using: str = DEFAULT_DB_ALIAS
) -> Iterator[CursorWrapper]:
    """Run the block in a transaction (a savepoint when nested) with VALUES (PostgreSQL setting
    name -> value) in force for it alone; yields a cursor of the connection."""
    if not values:
        raise ValueError("settings_for_block needs at least one setting.")
    connection = connections[using]
    nested = _in_callers_transaction(connection)
    names = list(values)
    setters = ", ".join("set_config(%s, %s, true)" for _ in names)
    arguments = [part for name in names for part in (name, str(values[name]))]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if nested:
            readers = ", ".join("current_setting(%s)" for _ in names)
            cursor.execute(f"SELECT {readers}, {setters}", [*names, *arguments])
            previous = cursor.fetchone()[: len(names)]
        else:
            cursor.execute(f"SELECT {setters}", arguments)
        yield cursor
        if nested:
            pairs = zip(names, previous, strict=True)
            cursor.execute(f"SELECT {setters}", [part for pair in pairs for part in pair])


def _in_callers_transaction(connection: BaseDatabaseWrapper) -> bool:
    if not connection.get_autocommit() and not connection.in_atomic_block:
        return True  # autocommit turned off by hand: a transaction of the caller's
    blocks = connection.atomic_blocks
    return bool(blocks) and not getattr(blocks[-1], "_from_testcase", False)


# The SQLSTATE of a statement PostgreSQL cancelled (query_canceled): what statement_timeout
# raises, whatever language the server's messages are in.
QUERY_CANCELED = "57014"


def statement_timed_out(error: BaseException) -> bool:
    """Whether ERROR (Django's wrapper, or the psycopg error it wraps) is a statement PostgreSQL
    cancelled, as statement_timeout does: SQLSTATE 57014, not the message's wording."""
    for candidate in (error, error.__cause__):
        if isinstance(candidate, psycopg.errors.QueryCanceled):
            return True
        if getattr(candidate, "sqlstate", None) == QUERY_CANCELED:
            return True
    return False
