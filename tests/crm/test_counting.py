"""Bounded counts: exact when fast, an estimate marked inexact otherwise."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from crm.counting import count_bounded
from crm.models import Channel
from tests.contacts.factories import ContactFactory


@pytest.mark.django_db
def test_a_fast_count_is_exact_and_runs_under_a_statement_timeout(channel: Channel) -> None:
    ContactFactory.create_batch(3, channel=channel)

    with CaptureQueriesContext(connection) as queries:
        counted = count_bounded(Contact.objects.filter(channel=channel), timeout_ms=500)

    assert (counted.value, counted.exact) == (3, True)
    sqls = [q["sql"] for q in queries.captured_queries]
    timeout_at = next(i for i, sql in enumerate(sqls) if "statement_timeout" in sql)
    count_at = next(i for i, sql in enumerate(sqls) if "COUNT(*)" in sql)
    assert timeout_at < count_at


@pytest.mark.django_db
def test_a_slow_count_falls_back_to_the_planner_estimate(channel: Channel) -> None:
    ContactFactory.create_batch(3, channel=channel)
    slow = Contact.objects.filter(channel=channel).extra(where=["pg_sleep(0.05) IS NOT NULL"])

    counted = count_bounded(slow, timeout_ms=20)

    assert counted.exact is False
    assert counted.value >= 0
    # The connection is still usable after the cancelled statement.
    assert Contact.objects.filter(channel=channel).count() == 3


@pytest.mark.django_db
def test_past_the_cap_the_count_is_an_estimate_that_reads_few_rows(channel: Channel) -> None:
    ContactFactory.create_batch(5, channel=channel)

    with CaptureQueriesContext(connection) as queries:
        counted = count_bounded(Contact.objects.filter(channel=channel), cap=3)

    assert counted.exact is False
    assert counted.value >= 4  # never below what was seen
    assert any("LIMIT 4" in q["sql"] for q in queries.captured_queries)
