"""A lost database connection is known by psycopg's error and SQLSTATE (crm.connection_loss):
real failures of real connections where PostgreSQL can produce them, the codes it sends
otherwise."""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection

from crm.connection_loss import connection_lost
from tests.test_make_run import free_port, server_conninfo


def failure(action: str, conninfo: str | None = None) -> psycopg.Error:
    """The psycopg error ACTION raises on a new connection to the test server."""
    with psycopg.connect(conninfo or server_conninfo("postgres"), autocommit=True) as conn:
        try:
            conn.execute(action)
        except psycopg.Error as error:
            return error
    raise AssertionError(f"{action} did not fail")


def terminated() -> psycopg.Error:
    """What the next statement of a connection the server ended (pg_terminate_backend) raises."""
    with (
        psycopg.connect(server_conninfo("postgres"), autocommit=True) as victim,
        psycopg.connect(server_conninfo("postgres"), autocommit=True) as admin,
    ):
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [victim.info.backend_pid])
        try:
            victim.execute("SELECT 1")
        except psycopg.Error as error:
            return error
    raise AssertionError("the terminated connection still answered")


def test_a_connection_the_server_ended_is_lost() -> None:
    ended = terminated()
    assert (type(ended), ended.sqlstate) == (psycopg.errors.AdminShutdown, "57P01")
    assert connection_lost(ended)


def test_a_refused_connection_is_lost() -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"host=127.0.0.1 port={free_port()} user=postgres connect_timeout=2")

    assert refused.value.sqlstate is None  # psycopg's own: the server sent nothing
    assert connection_lost(refused.value)


def test_django_s_error_is_known_by_the_psycopg_error_it_was_raised_from() -> None:
    ended = terminated()
    with pytest.raises(OperationalError) as wrapped, connection.wrap_database_errors:
        raise ended

    assert connection_lost(wrapped.value)


@pytest.mark.parametrize(
    "code", ["08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03", "57P05"]
)
def test_connection_exceptions_and_the_server_ending_the_session_are_lost(code: str) -> None:
    assert connection_lost(psycopg.errors.lookup(code)())


def test_failures_of_a_working_connection_are_not_lost() -> None:
    timed_out = failure("SET statement_timeout = 1; SELECT pg_sleep(1)")
    assert (type(timed_out), timed_out.sqlstate) == (psycopg.errors.QueryCanceled, "57014")
    assert not connection_lost(timed_out)
    assert not connection_lost(failure("SELECT 1/0"))
    assert not connection_lost(failure("SELECT * FROM no_such_table"))
    assert not connection_lost(psycopg.errors.PipelineAborted("an earlier statement failed"))
    assert not connection_lost(RuntimeError("not the database"))
