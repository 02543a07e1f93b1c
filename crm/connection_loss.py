"""A lost database connection, known by psycopg's error and its SQLSTATE, never by the wording
of its message; and what a request that met one is told (docs/ARCHITECTURE.md, "Database
outages")."""

from __future__ import annotations

import psycopg

# Seconds a client is told to wait (Retry-After) when the database cannot be reached: a
# restarting server or a failover is back within a few.
RETRY_AFTER_S = 5
UNAVAILABLE_MESSAGE = f"The database cannot be reached right now; retry in {RETRY_AFTER_S} seconds."
# The server ended the session: an administrator or a shutdown (57P01, pg_terminate_backend
# too), another backend's crash (57P02), a server still starting or stopping (57P03), an idle
# session's timeout (57P05).
_SESSION_ENDED = frozenset({"57P01", "57P02", "57P03", "57P05"})


def connection_lost(error: BaseException) -> bool:
    """Whether ERROR, or the psycopg error it wraps (Django raises its own from psycopg's), says
    the connection to the database is gone: SQLSTATE class 08 (connection exception), the
    server ending the session, or psycopg's own error without a SQLSTATE, which only a failed
    connection raises (refused, timed out, cut, closed: the server sent no code)."""
    found = _psycopg_error(error)
    if not isinstance(found, psycopg.OperationalError):
        return False
    if isinstance(found, psycopg.errors.PipelineAborted):  # an earlier statement's failure
        return False
    state = found.sqlstate
    return state is None or state.startswith("08") or state in _SESSION_ENDED


def _psycopg_error(error: BaseException) -> psycopg.Error | None:
    """ERROR if psycopg raised it, else the psycopg error it was raised from, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, psycopg.Error):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None
