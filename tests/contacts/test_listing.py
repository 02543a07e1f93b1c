"""Contact lists: sort orders, keyset pages, bounded counts, timeouts, and the indexes used."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.http import Http404
from django.utils import timezone

from contacts.listing import contact_filtered, contact_list_page
from contacts.models import Contact
from crm.errors import InvalidInput
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from tests.contacts.factories import ContactFactory


@pytest.fixture
def viewer(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def walk(viewer: Viewer, **options: Any) -> list[list[int]]:
    """Every page of a list, as lists of ids."""
    pages, since = [], None
    while True:
        page = contact_list_page(viewer=viewer, since=since, **options)
        pages.append([c.pk for c in page.contacts])
        if page.next is None:
            return pages
        since = page.next


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sort", ["-lastSeenAt", "lastSeenAt", "name", "-name", "sessionsCount", "-createdAt"]
)
def test_pages_cover_every_contact_once_in_order(
    viewer: Viewer, channel: Channel, sort: str
) -> None:
    now = timezone.now()
    for n in range(11):
        seen = None if n % 4 == 0 else now - timedelta(hours=n % 3)  # ties and missing values
        ContactFactory(channel=channel, name=f"c{n % 5}", last_seen_at=seen, sessions_count=n % 3)

    pages = walk(viewer, sort=sort, limit=3)

    ids = [i for page in pages for i in page]
    expected = list(
        contact_filtered(viewer=viewer).order_by(*_ordering(sort)).values_list("pk", flat=True)
    )
    assert ids == expected
    assert [len(p) for p in pages] == [3, 3, 3, 2]


def _ordering(sort: str) -> list[Any]:
    from contacts.listing import _ordering as ordering
    from contacts.listing import sort_parse

    return ordering(sort_parse(sort, {}))


@pytest.mark.django_db
def test_the_default_order_is_latest_visit_first_with_never_seen_last(
    viewer: Viewer, channel: Channel
) -> None:
    now = timezone.now()
    old = ContactFactory(channel=channel, last_seen_at=now - timedelta(days=3))
    never = ContactFactory(channel=channel, last_seen_at=None)
    recent = ContactFactory(channel=channel, last_seen_at=now)

    page = contact_list_page(viewer=viewer)

    assert [c.pk for c in page.contacts] == [recent.pk, old.pk, never.pk]
    assert (page.count.value, page.count.exact, page.next) == (3, True, None)


@pytest.mark.django_db
def test_a_tampered_cursor_is_refused_and_another_channels_is_not_found(
    viewer: Viewer, channel: Channel, other_channel: Channel
) -> None:
    ContactFactory.create_batch(3, channel=channel)
    ContactFactory.create_batch(3, channel=other_channel)
    cursor = contact_list_page(viewer=viewer, limit=1).next
    theirs = contact_list_page(
        viewer=Viewer(channel=other_channel, permissions=ALL_PERMISSIONS), limit=1
    ).next
    assert cursor and theirs

    with pytest.raises(InvalidInput) as error:
        contact_list_page(viewer=viewer, since=cursor[:-3] + "abc")
    assert error.value.problems[0].code == "invalid_cursor"
    with pytest.raises(Http404):
        contact_list_page(viewer=viewer, since=theirs)
    with pytest.raises(InvalidInput):
        contact_list_page(viewer=viewer, since=cursor, sort="name")


@pytest.mark.django_db
def test_an_unknown_sort_names_what_is_allowed(viewer: Viewer) -> None:
    with pytest.raises(InvalidInput) as error:
        contact_list_page(viewer=viewer, sort="profile.email")

    assert error.value.problems[0].key == "sort"
    assert "lastSeenAt" in error.value.problems[0].message


@pytest.mark.django_db
def test_a_list_that_runs_past_its_timeout_is_a_clear_refusal(
    viewer: Viewer, channel: Channel, settings: Any
) -> None:
    ContactFactory(channel=channel, name="slow")
    settings.LIST_STATEMENT_TIMEOUT_MS = 20
    original = contact_filtered

    def slow_filter(**kwargs: Any) -> Any:
        # Every row waits 50 ms, so the page query outlasts its 20 ms limit.
        return original(**kwargs).extra(where=["pg_sleep(0.05) IS NOT NULL"])

    with (
        mock.patch("contacts.listing.contact_filtered", slow_filter),
        pytest.raises(InvalidInput) as error,
    ):
        contact_list_page(viewer=viewer)

    assert (error.value.problems[0].key, error.value.problems[0].code) == ("filter", "too_slow")
    assert Contact.objects.filter(channel=channel).count() == 1  # the connection still works


@pytest.mark.django_db
def test_a_too_slow_list_names_the_unindexed_fields_whose_index_would_serve_it(
    viewer: Viewer, channel: Channel, settings: Any
) -> None:
    from profile_schema.models import ProfileField
    from profile_schema.services import profile_field_create

    profile_field_create(channel=channel, key="points", name="Points", type="number")
    visits = profile_field_create(channel=channel, key="visits", name="Visits", type="number")
    ProfileField.objects.filter(pk=visits.pk).update(indexed=True)
    profile_field_create(channel=channel, key="grade", name="Grade", type="string")
    ContactFactory(channel=channel, name="slow")
    settings.LIST_STATEMENT_TIMEOUT_MS = 20
    original = contact_filtered

    def slow_filter(**kwargs: Any) -> Any:
        return original(**kwargs).extra(where=["pg_sleep(0.05) IS NOT NULL"])

    condition = {"or": [
        {"key": "profile.points", "operator": "gt", "values": [100_000]},  # unindexed: named
        {"key": "profile.visits", "operator": "gt", "values": [3]},  # indexed
        {"key": "profile.grade", "operator": "eq", "values": ["gold"]},  # the GIN serves it
        {"key": "lastSeenAt", "operator": "withinLastDays", "values": [30]},  # a built-in
        {"key": "profile.points", "operator": "exists", "values": []},  # named once
    ]}  # fmt: skip
    with (
        mock.patch("contacts.listing.contact_filtered", slow_filter),
        pytest.raises(InvalidInput) as error,
    ):
        contact_list_page(viewer=viewer, filter=condition)

    [problem] = error.value.problems
    assert (problem.key, problem.code) == ("filter", "too_slow")
    assert problem.message == (
        "This list took longer than 0.02 s: profile.points is not indexed, so its condition "
        "reads every contact left. An admin can mark it indexed (profile fields); until then, "
        "narrow the filter."
    )


@pytest.mark.django_db
def test_the_page_query_runs_with_the_list_memory_and_timeout(
    viewer: Viewer, channel: Channel, settings: Any
) -> None:
    ContactFactory(channel=channel, name="seen")
    settings.LIST_WORK_MEM = "48MB"
    original = contact_filtered

    def reporting_filter(**kwargs: Any) -> Any:
        # Each row carries the settings its query ran with.
        return original(**kwargs).extra(
            select={
                "ran_with": "current_setting('work_mem') || ' ' || "
                "current_setting('statement_timeout')"
            }
        )

    with mock.patch("contacts.listing.contact_filtered", reporting_filter):
        page = contact_list_page(viewer=viewer)

    assert [row.ran_with for row in page.contacts] == ["48MB 5s"]  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_filter_json_round_trips_through_a_page(viewer: Viewer, channel: Channel) -> None:
    ContactFactory(channel=channel, tags=["vip"])
    ContactFactory(channel=channel, tags=["withdrawn"])

    page = contact_list_page(
        viewer=viewer,
        filter=json.loads('{"key": "tags", "operator": "hasNone", "values": ["withdrawn"]}'),
    )

    assert [c.tags for c in page.contacts] == [["vip"]]


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["-profile.points", "profile.points"])
def test_an_indexed_profile_key_sorts_and_pages_with_missing_values_at_the_end(
    viewer: Viewer, channel: Channel, sort: str
) -> None:
    from profile_schema.models import ProfileField
    from profile_schema.services import profile_field_create

    field = profile_field_create(channel=channel, key="points", name="Points", type="number")
    ProfileField.objects.filter(pk=field.pk).update(indexed=True)
    points = [30, None, 10, 30, None, 20, 5]
    for value in points:
        ContactFactory(channel=channel, profile={} if value is None else {"points": value})

    pages = walk(viewer, sort=sort, limit=2)

    seen = [Contact.objects.get(pk=i).profile.get("points") for page in pages for i in page]
    present = sorted((v for v in points if v is not None), reverse=sort.startswith("-"))
    if sort.startswith("-"):
        assert seen == [*present, None, None]
    else:
        assert seen == [None, None, *present]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sort",
    ["-lastSeenAt", "lastSeenAt", "name", "-sessionsCount", "-profile.points", "profile.points"],
)
def test_a_page_picked_from_its_few_matches_pages_like_a_walk_of_the_order(
    viewer: Viewer, channel: Channel, sort: str
) -> None:
    """A filter counted exactly and small has its pages picked from its matches (a materialized
    CTE): the same rows, in the same order, with the same cursors as walking the order."""
    from django.test.utils import CaptureQueriesContext

    from contacts import listing
    from profile_schema.models import ProfileField
    from profile_schema.services import profile_field_create

    field = profile_field_create(channel=channel, key="points", name="Points", type="number")
    ProfileField.objects.filter(pk=field.pk).update(indexed=True)
    now = timezone.now()
    for n in range(14):
        ContactFactory(
            channel=channel,
            last_seen_at=None if n % 5 == 0 else now - timedelta(hours=n % 3),
            sessions_count=n % 3,
            profile={"name": f"{'keep' if n % 7 else 'drop'}{n % 4}"}
            | ({} if n % 4 == 0 else {"points": n % 3 * 10}),
        )
    options = {"sort": sort, "limit": 3, "filter": {"key": "name", "operator": "contains",
                                                     "values": ["keep"]}}  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        fenced = walk(viewer, **options)
    with mock.patch.object(listing, "FENCED_PAGE_ROWS", -1):
        walked = walk(viewer, **options)

    assert fenced == walked
    assert sum(len(page) for page in fenced) == 12
    assert any(q["sql"].startswith("WITH matching AS MATERIALIZED") for q in queries)


@pytest.mark.django_db
def test_a_filter_estimated_few_that_matches_more_is_walked_after_all(
    viewer: Viewer, channel: Channel
) -> None:
    """The gathering stops one row past FENCED_PAGE_ROWS; then the page walks the order."""
    from django.test.utils import CaptureQueriesContext

    from contacts import listing
    from crm.counting import CountPlan

    for n in range(8):
        ContactFactory(channel=channel, profile={"name": f"keep{n}"})
    options = {"limit": 3, "filter": {"key": "name", "operator": "contains", "values": ["keep"]}}
    walked = walk(viewer, **options)
    underestimated = mock.patch.object(
        listing, "count_plan", lambda *a, **k: CountPlan(rows=2, cost=10.0, scan_cost=0.0)
    )

    with (
        mock.patch.object(listing, "FENCED_PAGE_ROWS", 4),
        underestimated,
        CaptureQueriesContext(connection) as queries,
    ):
        page = contact_list_page(viewer=viewer, **options)

    assert [c.pk for c in page.contacts] == walked[0]
    statements = [q["sql"] for q in queries.captured_queries if "contacts_contact" in q["sql"]]
    assert statements[0].startswith("WITH matching AS MATERIALIZED") and "LIMIT 5)" in statements[0]
    assert statements[1].startswith("SELECT")  # the walk, after 5 matches were gathered


@pytest.mark.django_db
def test_a_filter_estimated_few_through_a_sequential_scan_walks_the_order(
    viewer: Viewer, channel: Channel
) -> None:
    """Gathering the matches of a filter no index serves reads the tenant; a walk may stop."""
    from django.test.utils import CaptureQueriesContext

    from contacts import listing
    from crm.counting import CountPlan

    ContactFactory(channel=channel, profile={"name": "keep"})
    scanned = CountPlan(rows=2, cost=10.0, scan_cost=1e9)
    with (
        mock.patch.object(listing, "count_plan", lambda *a, **k: scanned),
        CaptureQueriesContext(connection) as queries,
    ):
        page = contact_list_page(
            viewer=viewer, filter={"key": "name", "operator": "contains", "values": ["keep"]}
        )

    assert len(page.contacts) == 1
    assert not any(q["sql"].startswith("WITH matching") for q in queries.captured_queries)


@pytest.mark.django_db
def test_a_profile_key_without_an_index_cannot_sort(viewer: Viewer, channel: Channel) -> None:
    from profile_schema.services import profile_field_create

    profile_field_create(channel=channel, key="points", name="Points", type="number")

    with pytest.raises(InvalidInput) as error:
        contact_list_page(viewer=viewer, sort="profile.points")
    assert error.value.problems[0].code == "invalid_sort"
