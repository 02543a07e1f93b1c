"""Requests that meet a connection the database dropped (pg_terminate_backend, as a restart or
a failover does), in process with Django's request handling: a GET whose first statement met
it runs again once on a new connection; anything else is a 503 with Retry-After, in the API's
error shape or as a plain page, and a write is never run again."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.test import RequestFactory

from contacts.models import Contact
from crm.models import Channel
from crm.outage import server_error
from tests.api_clients import credential_client
from tests.contacts.factories import ContactFactory
from tests.contacts.sdk_client import Sdk
from tests.crm.factories import manager_client
from tests.test_make_run import server_conninfo

# The connection is really dropped: no test transaction to roll back around it.
dropping_db = pytest.mark.django_db(transaction=True)
UNAVAILABLE = {
    "type": "service_unavailable",
    "message": "The database cannot be reached right now; retry in 5 seconds.",
    "errors": [],
}


def connection_dropped() -> None:
    """The database ends this thread's connection and Django does not know yet: the health
    check of this request has run (the test client starts no request's check)."""
    connection.ensure_connection()
    assert connection.connection is not None
    pid = connection.connection.info.backend_pid
    with psycopg.connect(server_conninfo("postgres"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


class DropsBefore:
    """An execute wrapper: the connection is dropped just before the statements numbered in
    AT (1 is the request's first), or before those whose SQL starts with PREFIX."""

    def __init__(self, at: set[int] | None = None, prefix: str = "") -> None:
        self.at = at or set()
        self.prefix = prefix
        self.statements: list[str] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.statements.append(sql)
        if len(self.statements) in self.at or (self.prefix and sql.startswith(self.prefix)):
            connection_dropped()
        return execute(sql, params, many, context)


@pytest.fixture
def drops() -> Iterator[Callable[..., DropsBefore]]:
    """Install a DropsBefore for the rest of the test; the next request starts reconnected."""
    installed: list[DropsBefore] = []

    def install(at: set[int] | None = None, prefix: str = "") -> DropsBefore:
        dropping = DropsBefore(at, prefix)
        installed.append(dropping)
        connection.execute_wrappers.append(dropping)
        return dropping

    yield install
    for dropping in installed:
        connection.execute_wrappers.remove(dropping)
    connection.close()


def assert_unavailable(response: HttpResponse) -> None:
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response.json() == UNAVAILABLE


@dropping_db
def test_a_get_whose_first_statement_met_a_dropped_connection_runs_again_on_a_new_one(
    channel: Channel, drops: Callable[..., DropsBefore], caplog: pytest.LogCaptureFixture
) -> None:
    contact = ContactFactory(channel=channel)
    api = credential_client(channel)
    dropping = drops(at={1})

    with caplog.at_level(logging.WARNING, logger="crm.outage"):
        response = api.get(f"/open/v5/users/{contact.pk}")

    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(contact.pk)
    first = dropping.statements[0]
    assert dropping.statements.count(first) == 2  # the credential's read, again
    assert caplog.messages == [
        f"GET /open/v5/users/{contact.pk} met a lost database connection at its first"
        " statement; run again on a new one"
    ]


@dropping_db
def test_a_get_is_run_again_once_only(channel: Channel, drops: Callable[..., DropsBefore]) -> None:
    contact = ContactFactory(channel=channel)
    api = credential_client(channel)
    dropping = drops(at={1, 2})

    response = api.get(f"/open/v5/users/{contact.pk}")

    assert_unavailable(response)
    assert len(dropping.statements) == 2


@dropping_db
def test_a_get_that_lost_its_connection_after_its_first_statement_is_a_503(
    channel: Channel, drops: Callable[..., DropsBefore]
) -> None:
    contact = ContactFactory(channel=channel)
    api = credential_client(channel)
    dropping = drops(at={2})

    response = api.get(f"/open/v5/users/{contact.pk}")

    assert_unavailable(response)
    assert len(dropping.statements) == 2  # not run again: its first statement had run


@dropping_db
def test_a_write_that_met_a_dropped_connection_is_a_503_and_is_not_run_again(
    channel: Channel, drops: Callable[..., DropsBefore]
) -> None:
    api = credential_client(channel)
    dropping = drops(at={1})

    response = api.post(
        "/open/v5/users",
        json.dumps({"profile": {"email": "lee@shop.example"}}),
        content_type="application/json",
    )

    assert_unavailable(response)
    assert len(dropping.statements) == 1
    connection.close()
    assert not Contact.objects.filter(channel=channel).exists()


@dropping_db
def test_a_boot_cut_in_its_transaction_is_a_503_the_browser_can_read(
    channel: Channel, drops: Callable[..., DropsBefore]
) -> None:
    sdk = Sdk(channel.plugin_key)
    sdk.client.defaults["HTTP_ORIGIN"] = "https://shop.example"
    dropping = drops(prefix="SELECT profile_schema_read_lock")

    response = sdk.boot()

    assert_unavailable(response)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert any(sql.startswith("SELECT profile_schema_read_lock") for sql in dropping.statements)
    connection.close()
    assert not Contact.objects.filter(channel=channel).exists()


@dropping_db
def test_a_desk_page_that_lost_its_connection_is_a_plain_503_page(
    channel: Channel, drops: Callable[..., DropsBefore]
) -> None:
    client = manager_client(channel)
    drops(at={2})

    response = client.get("/desk/")

    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert "<h1>Temporarily unavailable</h1>" in page and "in\n  5 seconds" in page


@dropping_db
def test_a_desk_page_whose_first_statement_met_a_dropped_connection_is_answered(
    channel: Channel, drops: Callable[..., DropsBefore]
) -> None:
    client = manager_client(channel)
    drops(at={1})

    response = client.get("/desk/")

    # Answered as if nothing had happened: a manager of one channel goes to its contact list.
    assert response.status_code == 302
    assert response["Location"] == f"/desk/{channel.pk}/contacts/"


def test_a_connection_lost_outside_a_view_is_a_503_from_the_500_handler() -> None:
    """Django calls its 500 handler while handling the error (a middleware's, say)."""
    request = RequestFactory().get("/desk/")
    try:
        with connection.wrap_database_errors:
            raise psycopg.OperationalError("consuming input failed: server closed the connection")
    except DatabaseError:
        response = server_error(request)

    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert "<h1>Temporarily unavailable</h1>" in response.content.decode()


def test_other_errors_stay_django_s_500() -> None:
    request = RequestFactory().get("/desk/")
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = server_error(request)

    assert response.status_code == 500
    assert "Retry-After" not in response
