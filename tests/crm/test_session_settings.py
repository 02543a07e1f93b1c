"""Settings for one block (a list page's timeout and memory, a count's timeout) end with it,
also inside a caller's transaction."""

from __future__ import annotations

import os

import pytest
from django.db import OperationalError, connection, transaction

from contacts.listing import contact_list_page
from contacts.models import Contact
from crm.counting import count_bounded
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from crm.session_settings import settings_for_block
from tests.contacts.factories import ContactFactory


def show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_inside_a_callers_transaction_the_settings_end_with_the_block() -> None:
    with transaction.atomic():
        before = (show("statement_timeout"), show("work_mem"))
        with settings_for_block({"statement_timeout": "1234", "work_mem": "7MB"}):
            assert (show("statement_timeout"), show("work_mem")) == ("1234ms", "7MB")
        assert (show("statement_timeout"), show("work_mem")) == before


@pytest.mark.django_db
def test_a_block_that_fails_leaves_the_callers_settings_too() -> None:
    with transaction.atomic():
        before = show("statement_timeout")
        with (
            pytest.raises(OperationalError, match="statement timeout"),
            settings_for_block({"statement_timeout": "10"}) as cursor,
        ):
            cursor.execute("SELECT pg_sleep(0.2)")
        assert show("statement_timeout") == before
        assert show("statement_timeout") != "10ms"


@pytest.mark.django_db
def test_counts_and_list_pages_in_a_callers_transaction_leave_its_settings(
    channel: Channel,
) -> None:
    ContactFactory.create_batch(3, channel=channel)
    viewer = Viewer(channel=channel, permissions=ALL_PERMISSIONS)
    with transaction.atomic():
        before = (show("statement_timeout"), show("work_mem"))
        assert count_bounded(Contact.objects.filter(channel=channel)).value == 3
        page = contact_list_page(viewer=viewer)
        assert len(page.contacts) == 3
        assert (show("statement_timeout"), show("work_mem")) == before


@pytest.mark.django_db
def test_on_its_own_the_block_sends_one_statement_for_its_settings() -> None:
    from django.test.utils import CaptureQueriesContext

    with (
        CaptureQueriesContext(connection) as queries,
        settings_for_block({"statement_timeout": "1234"}),
    ):
        pass
    sent = [
        q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVE", "RELEASE"))
    ]
    # (the savepoint is the test case's: a request opens the transaction itself)
    assert sent == ["SELECT set_config('statement_timeout', '1234', true)"]


def test_a_block_needs_a_setting() -> None:
    with pytest.raises(ValueError, match="at least one setting"), settings_for_block({}):
        pass


@pytest.mark.django_db
def test_a_statement_timeout_is_known_by_its_sqlstate() -> None:
    from crm.session_settings import statement_timed_out

    with (
        pytest.raises(OperationalError) as timed_out,
        settings_for_block({"statement_timeout": "10"}) as cursor,
    ):
        cursor.execute("SELECT pg_sleep(0.2)")
    with pytest.raises(OperationalError) as locked, transaction.atomic(), connection.cursor() as c:
        c.execute(
            "DO $$ BEGIN RAISE 'statement timeout' USING ERRCODE = 'lock_not_available'; END $$"
        )

    assert statement_timed_out(timed_out.value) is True  # Django's error, by its psycopg cause
    assert statement_timed_out(timed_out.value.__cause__) is True
    assert statement_timed_out(locked.value) is False  # the wording alone is no timeout
    assert (
        statement_timed_out(OperationalError("canceling statement due to statement timeout"))
        is False
    )


@pytest.mark.django_db
def test_the_apps_sessions_price_a_random_page_read_as_settings_say() -> None:
    """DB_RANDOM_PAGE_COST (1.1 by default) reaches every connection of the app: the planner
    then ANDs two indexed conditions' bitmaps instead of reading every page one of them names."""
    from django.conf import settings

    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        shown = cursor.fetchone()[0]

    if "DB_RANDOM_PAGE_COST" not in os.environ:
        assert settings.DB_RANDOM_PAGE_COST == "1.1"
    assert float(shown) == float(settings.DB_RANDOM_PAGE_COST)
