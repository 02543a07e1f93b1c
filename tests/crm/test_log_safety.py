"""Logs and error reports carry no customer value: query values, member ids in paths, request
bodies, profile values and values quoted by PostgreSQL are left out of the development server's
and gunicorn's request lines, Django's request log, the DEBUG 500 page and the admins' error
mail. Each test sends unique marker strings and looks for them in what was written."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from bench.server import gunicorn
from crm.log_safety import RequestValuesHidden, query_hidden, text_hidden
from tests.contacts.factories import ContactFactory
from tests.crm.factories import ChannelFactory
from tests.crm.jobs.test_worker import database_url_of_the_test
from tests.test_make_run import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
PHONE = "01077731234"
EMAIL = "mailmarker7305@example.com"
MEMBER = "membermarker7304"
BODY = "bodymarker7302"
PROFILE = "profilemarker7303"
MARKERS = (PHONE, EMAIL, "mailmarker7305", MEMBER, BODY, PROFILE)


def assert_no_marker(text: str) -> None:
    found = [marker for marker in MARKERS if marker in text]
    assert not found, f"{found} in:\n{text}"


# -- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "hidden"),
    [
        ("query=01077731234&limit=25", "query=…&limit=…"),
        ("filter=%7B%22key%22%7D", "filter=…"),
        ("profile__email__startswith=cust&o=1", "profile__email__startswith=…&o=…"),
        ("01077731234", "…"),  # a bare word is a value
        ("a%40b.example=1", "…=…"),  # a name that is not a name is hidden too
        ("query=", "query=…"),
        ("", ""),
        ("a=1&&b=2", "a=…&&b=…"),
    ],
)
def test_a_query_keeps_its_names_and_hides_its_values(query: str, hidden: str) -> None:
    assert query_hidden(query) == hidden


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (
            '"GET /open/v5/users?query=01077731234 HTTP/1.1" 403 58',
            '"GET /open/v5/users?query=… HTTP/1.1" 403 58',
        ),
        ("Not Found: /open/v5/users/@m-12000", "Not Found: /open/v5/users/@…"),
        (
            "GET /open/v5/users/@kim@shop.example/events?since=2 HTTP/1.1",
            "GET /open/v5/users/@…/events?since=… HTTP/1.1",
        ),
        (
            'referer "http://crm.example/admin/contacts/contact/?q=kim%40shop.example"',
            'referer "http://crm.example/admin/contacts/contact/?q=…"',
        ),
        (
            "duplicate key value\nDETAIL:  Key (plugin_key)=(secret-1) already exists.\n",
            "duplicate key value\nDETAIL:  …\n",
        ),
        ("Is this a question? Yes.", "Is this a question? Yes."),
        ('re_path(r"^users/(?P<id>[^/]+)$")', 're_path(r"^users/(?P<id>[^/]+)$")'),
    ],
)
def test_text_keeps_paths_and_hides_values(text: str, hidden: str) -> None:
    assert text_hidden(text) == hidden
    assert text_hidden(hidden) == hidden  # hiding twice changes nothing


# -- Django's log and error reports, in process ------------------------------------------------


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured handlers write (the root console and the development server's),
    captured: the real handlers, with their filters and formatters."""
    output = io.StringIO()
    handlers = [
        handler
        for logger in (logging.getLogger(), logging.getLogger("django.server"))
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler)
        and any(isinstance(f, RequestValuesHidden) for f in handler.filters)
    ]
    assert len(handlers) == 2
    streams = [handler.setStream(output) for handler in handlers]
    yield output
    for handler, stream in zip(handlers, streams, strict=True):
        handler.setStream(stream)


def failing_request(client: Client, **extra: Any) -> Any:
    contact = ContactFactory(
        channel=ChannelFactory(), profile={"email": EMAIL, "note": PROFILE}, member_id=MEMBER
    )
    return client.post(
        f"/open/v5/users/@{MEMBER}/fails?query={PHONE}&contact={contact.pk}",
        data={"email": EMAIL, "memo": BODY},
        **extra,
    )


@pytest.mark.django_db
@pytest.mark.urls("tests.crm.log_safety_urls")
def test_a_failing_request_is_logged_by_its_path_without_values(log_output: io.StringIO) -> None:
    response = failing_request(Client(raise_request_exception=False))

    assert response.status_code == 500
    written = log_output.getvalue()
    assert "Internal Server Error: /open/v5/users/@…/fails" in written
    assert "RuntimeError: The search failed" in written  # the traceback is there
    assert_no_marker(written)


@pytest.mark.django_db
@pytest.mark.urls("tests.crm.log_safety_urls")
def test_a_value_postgresql_quotes_is_left_out_of_the_log(log_output: io.StringIO) -> None:
    ChannelFactory(plugin_key=f"key-{MEMBER}")

    response = Client(raise_request_exception=False).get(f"/duplicate?pluginKey=key-{MEMBER}")

    assert response.status_code == 500
    written = log_output.getvalue()
    assert "IntegrityError" in written and "DETAIL:  …" in written
    assert_no_marker(written)


@pytest.mark.django_db
@pytest.mark.urls("tests.crm.log_safety_urls")
@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_the_debug_error_page_names_parameters_but_shows_no_value(
    settings: Any, accept: str
) -> None:
    settings.DEBUG = True

    response = failing_request(Client(raise_request_exception=False), HTTP_ACCEPT=accept)

    assert response.status_code == 500
    page = response.content.decode()
    assert "The search failed" in page and "search_fails" in page
    for name in ("query", "contact", "email", "memo"):
        assert name in page
    if accept == "text/html":  # the page with each frame's variables, by type only
        assert "&lt;dict, hidden&gt;" in page and "&lt;Contact, hidden&gt;" in page
    assert_no_marker(page)


@pytest.mark.django_db
@pytest.mark.urls("tests.crm.log_safety_urls")
def test_the_admins_error_mail_carries_no_value(settings: Any) -> None:
    settings.ADMINS = [("Operations", "ops@shop.example")]
    [handler] = [h for h in logging.getLogger("django").handlers if hasattr(h, "include_html")]
    handler.include_html = True  # type: ignore[attr-defined]
    try:
        response = failing_request(Client(raise_request_exception=False))
    finally:
        handler.include_html = False  # type: ignore[attr-defined]

    assert response.status_code == 500
    [sent] = mail.outbox
    html = sent.alternatives[0][0]  # type: ignore[attr-defined]
    assert "/open/v5/users/@…/fails" in sent.subject
    assert "RuntimeError" in sent.body and "memo" in html
    for text in (sent.subject, sent.body, str(html)):
        assert_no_marker(text)


# -- the servers, over real HTTP --------------------------------------------------------------

REQUESTS = [
    f"/open/v5/users?query={PHONE}&limit=5",
    f"/open/v5/users/@{MEMBER}",
    f"/open/v5/users?memberId={MEMBER}&query=mailmarker7305%40example.com",
    f"/admin/contacts/contact/?profile__email__startswith=mailmarker7305&q={PHONE}",
    f"/healthz?probe={BODY}",
    f"/nowhere/{PHONE[:0]}?email={EMAIL}",
]


def request_all(base: str) -> None:
    for path in REQUESTS:
        request = urllib.request.Request(  # noqa: S310 - loopback only
            base + path, headers={"Referer": f"{base}/admin/?q={PROFILE}"}
        )
        with contextlib.suppress(urllib.error.HTTPError):  # a 4xx is logged like any answer
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback only


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_development_server_logs_requests_without_query_values(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "runserver.log"
    env = {**os.environ, "DATABASE_URL": database_url_of_the_test(), "DEBUG": "1"}
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603 - our own entry point, as `make run` starts it
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz", 60)
            request_all(f"http://127.0.0.1:{port}")
            time.sleep(0.5)  # the last lines are written after the answer
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    written = log.read_text()

    assert '"GET /open/v5/users?query=…&limit=… HTTP/1.1" 401' in written
    assert "Unauthorized: /open/v5/users/@…\n" in written  # django.request's warning
    assert '"GET /open/v5/users/@… HTTP/1.1" 401' in written
    assert '"GET /admin/login/?next=… HTTP/1.1" 200' in written
    assert "GET /open/v5/users?memberId=…&query=… HTTP/1.1" in written
    assert "GET /admin/contacts/contact/?profile__email__startswith=…&q=… HTTP/1.1" in written
    assert "Not Found: /nowhere/" in written
    assert_no_marker(written)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorns_access_log_keeps_parameter_names_only() -> None:
    format_ = '%(h)s "%(r)s" %(s)s q=%(q)s U=%(U)s f="%(f)s" k=%({x-access-secret}i)s'
    arguments = f"--access-logfile - --access-logformat '{format_}'"
    with gunicorn(
        database_url_of_the_test(),
        "log-safety-test",
        workers=1,
        environment={"GUNICORN_CMD_ARGS": arguments, "LOG_LEVEL": "INFO"},
    ) as server:
        request = urllib.request.Request(  # noqa: S310 - loopback only
            f"{server.url}/open/v5/users?query={PHONE}",
            headers={"x-access-key": "k", "x-access-secret": BODY},
        )
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback only
        request_all(server.url)
        time.sleep(0.5)
        written = server.log.read_text()

    assert '"GET /open/v5/users?query=… HTTP/1.1" 401 q=query=… U=/open/v5/users' in written
    assert "k=…" in written
    assert "U=/open/v5/users/@…" in written
    assert 'f="http://127.0.0.1:' in written and '/admin/?q=…"' in written
    assert_no_marker(written)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            'invalid input syntax for type bigint: "kim@example.com"',
            "invalid input syntax for type bigint: …",
        ),
        (
            "ValueError: invalid literal for int() with base 10: '01012345678'",
            "ValueError: invalid literal for int() with base 10: …",
        ),
        (
            "ValueError: could not convert string to float: 'kim@example.com'",
            "ValueError: could not convert string to float: …",
        ),
        ('CONTEXT:  JSON data, line 1: {"email": "kim@x"', "CONTEXT:  …"),
    ],
)
def test_errors_that_quote_the_refused_value_keep_only_their_words(line: str, shown: str) -> None:
    assert text_hidden(line) == shown
