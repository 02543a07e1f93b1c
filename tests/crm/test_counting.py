"""Bounded counts: the planner's estimate first, an exact count only when it is plausibly small."""

from __future__ import annotations

import pytest
from django.core.paginator import EmptyPage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from crm import counting
from crm.counting import count_bounded, count_estimate, count_plan
from crm.models import Channel
from tests.contacts.factories import ContactFactory


def analyze() -> None:
    """Fresh planner statistics, so the estimates below are what the rows say."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")


def counts_run(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"]]


@pytest.mark.django_db
def test_a_fast_count_is_exact_and_runs_under_a_statement_timeout(channel: Channel) -> None:
    ContactFactory.create_batch(3, channel=channel)

    with CaptureQueriesContext(connection) as queries:
        counted = count_bounded(Contact.objects.filter(channel=channel), timeout_ms=500)

    assert (counted.value, counted.exact) == (3, True)
    sqls = [q["sql"] for q in queries.captured_queries]
    explain_at = next(i for i, sql in enumerate(sqls) if sql.startswith("EXPLAIN"))
    timeout_at = next(i for i, sql in enumerate(sqls) if "statement_timeout" in sql)
    count_at = next(i for i, sql in enumerate(sqls) if "COUNT(*)" in sql)
    assert explain_at < timeout_at < count_at


@pytest.mark.django_db
def test_a_slow_count_falls_back_to_the_planner_estimate(channel: Channel) -> None:
    ContactFactory.create_batch(3, channel=channel)
    slow = Contact.objects.filter(channel=channel).extra(where=["pg_sleep(0.05) IS NOT NULL"])

    counted = count_bounded(slow, timeout_ms=20)

    assert counted.exact is False
    assert counted.value == count_estimate(slow)
    # The connection is still usable after the cancelled statement.
    assert Contact.objects.filter(channel=channel).count() == 3


@pytest.mark.django_db
def test_an_estimate_far_above_the_cap_is_the_answer_and_nothing_is_counted(
    channel: Channel,
) -> None:
    ContactFactory.create_batch(40, channel=channel)
    analyze()
    contacts = Contact.objects.filter(channel=channel)
    estimate = count_estimate(contacts)
    assert estimate > 3 * counting.ESTIMATE_MARGIN

    with CaptureQueriesContext(connection) as queries:
        counted = count_bounded(contacts, cap=3)

    assert (counted.value, counted.exact) == (estimate, False)
    assert counts_run(queries) == []
    assert [q["sql"].split(" ", 1)[0] for q in queries.captured_queries] == ["EXPLAIN"]


@pytest.mark.django_db
def test_an_estimate_within_the_cap_gives_the_exact_count(
    channel: Channel, other_channel: Channel
) -> None:
    ContactFactory.create_batch(8, channel=channel)
    ContactFactory.create_batch(30, channel=other_channel)
    analyze()
    ours = Contact.objects.filter(channel=channel)
    assert count_estimate(ours) <= 10

    with CaptureQueriesContext(connection) as queries:
        counted = count_bounded(ours, cap=10)
        at_the_cap = count_bounded(ours, cap=8)

    assert (counted.value, counted.exact) == (8, True)
    assert (at_the_cap.value, at_the_cap.exact) == (8, True)
    assert len(counts_run(queries)) == 2


@pytest.mark.django_db
def test_a_plan_costlier_than_the_limit_is_not_counted(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    ContactFactory.create_batch(3, channel=channel)
    contacts = Contact.objects.filter(channel=channel)
    monkeypatch.setattr(counting, "EXACT_COUNT_MAX_COST", 0.001)  # any scan costs more

    with CaptureQueriesContext(connection) as queries:
        counted = count_bounded(contacts)

    assert (counted.value, counted.exact) == (count_estimate(contacts), False)
    assert counts_run(queries) == []


def planner_set(setting: str, value: str) -> None:
    """SETTING for the rest of the test's transaction (the test runs in one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [setting, value])


@pytest.mark.django_db
def test_a_plan_with_a_costly_sequential_scan_is_not_counted(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sequential scan's cost is the table's size, whatever the filter: past the limit the
    count would read the whole table, so the estimate answers, even when the total is cheap."""
    ContactFactory.create_batch(3, channel=channel)
    contacts = Contact.objects.filter(channel=channel)
    monkeypatch.setattr(counting, "EXACT_COUNT_MAX_SCAN_COST", 0.001)

    planner_set("enable_indexscan", "off")
    planner_set("enable_bitmapscan", "off")
    with CaptureQueriesContext(connection) as queries:
        scanned = count_bounded(contacts)
    assert (scanned.value, scanned.exact) == (count_estimate(contacts), False)
    assert count_plan(contacts).indexed is False  # gathering its rows would read the table
    assert counts_run(queries) == []

    # The same filter served by an index has no sequential scan: it is counted.
    planner_set("enable_indexscan", "on")
    planner_set("enable_seqscan", "off")
    with CaptureQueriesContext(connection) as queries:
        indexed = count_bounded(contacts)
    assert (indexed.value, indexed.exact) == (3, True)
    assert count_plan(contacts).indexed is True
    assert len(counts_run(queries)) == 1


@pytest.mark.django_db
def test_a_low_estimate_past_the_cap_is_counted_and_answers_at_least_cap_plus_one(
    channel: Channel,
) -> None:
    ContactFactory.create_batch(2, channel=channel)
    analyze()  # the planner learns 2 rows, then 8 more come
    ContactFactory.create_batch(8, channel=channel)
    contacts = Contact.objects.filter(channel=channel)
    estimate = count_estimate(contacts)
    assert estimate <= 3

    with CaptureQueriesContext(connection) as queries:
        counted = count_bounded(contacts, cap=3)

    assert (counted.value, counted.exact) == (4, False)  # never below what was seen
    (count_sql,) = counts_run(queries)
    assert "LIMIT 4" in count_sql


@pytest.mark.django_db
def test_a_queryset_that_matches_nothing_by_construction_counts_zero(channel: Channel) -> None:
    ContactFactory.create_batch(2, channel=channel)

    assert count_estimate(Contact.objects.filter(pk__in=[])) == 0
    counted = count_bounded(Contact.objects.filter(channel=channel, pk__in=[]))
    assert (counted.value, counted.exact) == (0, True)
    assert count_bounded(Contact.objects.none()) == counted


@pytest.mark.django_db
def test_the_defaults_count_a_small_channel_exactly(channel: Channel) -> None:
    ContactFactory.create_batch(25, channel=channel)
    analyze()

    counted = count_bounded(Contact.objects.filter(channel=channel))

    assert (counted.value, counted.exact) == (25, True)


@pytest.mark.django_db
def test_the_admin_paginator_serves_pages_past_a_low_estimate(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm import admin_scoping
    from crm.admin_scoping import BoundedCountPaginator

    ContactFactory.create_batch(5, channel=channel)
    contacts = Contact.objects.filter(channel=channel).order_by("id")
    ids = list(contacts.values_list("id", flat=True))
    monkeypatch.setattr(
        admin_scoping, "count_bounded", lambda qs: counting.BoundedCount(value=1, exact=False)
    )
    paginator = BoundedCountPaginator(contacts, 2)

    assert paginator.count == 1
    assert [c.pk for c in paginator.page(2)] == ids[2:4]
    assert [c.pk for c in paginator.page(3)] == ids[4:]
    assert list(paginator.page(9)) == []
    with pytest.raises(EmptyPage):
        paginator.page(0)


@pytest.mark.django_db
def test_an_exact_count_keeps_the_usual_page_bounds(channel: Channel) -> None:
    from crm.admin_scoping import BoundedCountPaginator

    ContactFactory.create_batch(3, channel=channel)
    paginator = BoundedCountPaginator(Contact.objects.filter(channel=channel).order_by("id"), 2)

    assert (paginator.count, paginator.num_pages) == (3, 2)
    with pytest.raises(EmptyPage):
        paginator.page(3)


@pytest.mark.django_db
def test_a_list_page_never_counts_fewer_than_it_shows(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contacts import listing
    from crm.permissions import ALL_PERMISSIONS, Viewer

    ContactFactory.create_batch(5, channel=channel)
    # The planner expects 1 row at a cost past the limit: the estimate answers.
    monkeypatch.setattr(counting, "_planned", lambda qs: (1, 1e9, 0.0))

    page = listing.contact_list_page(
        viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS), limit=3
    )

    assert len(page.contacts) == 3 and page.next is not None
    assert (page.count.value, page.count.exact) == (4, False)  # 3 shown, at least 1 after


@pytest.mark.django_db
def test_a_parallel_scan_is_held_to_the_limit_as_a_whole_scan() -> None:
    worker_share = 30_000.0  # two workers and the leader: 72,000 for the whole scan
    plan = {
        "Node Type": "Gather",
        "Total Cost": worker_share + 1_000,
        "Workers Planned": 2,
        "Plans": [{"Node Type": "Seq Scan", "Parallel Aware": True, "Total Cost": worker_share}],
    }
    serial = {"Node Type": "Seq Scan", "Parallel Aware": False, "Total Cost": worker_share}

    assert counting._costliest_scan(plan) == pytest.approx(72_000.0)
    assert counting._costliest_scan(plan) > counting.EXACT_COUNT_MAX_SCAN_COST
    assert counting._costliest_scan(serial) == worker_share


@pytest.mark.django_db
def test_an_estimate_is_never_below_the_rows_seen(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    ContactFactory.create_batch(3, channel=channel)
    contacts = Contact.objects.filter(channel=channel)
    monkeypatch.setattr(counting, "_planned", lambda qs: (1, 1e9, 0.0))

    assert count_bounded(contacts, seen=3) == counting.BoundedCount(value=3, exact=False)
    assert count_bounded(contacts) == counting.BoundedCount(value=1, exact=False)
