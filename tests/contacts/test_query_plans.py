"""EXPLAIN on a seeded table: each indexed operator, the list pages and a tag delete's batch
use their index."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from contacts.listing import contact_filtered, contact_list_page
from contacts.services.atomic import contact_defaults
from contacts.services.tags import DELETE_BATCH_SIZE, TAG_REMOVAL_BATCH_SQL
from crm.jobs.models import PeriodicSchedule
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, BASIC_PERMISSIONS, Viewer
from crm.provisioning import channel_provision
from profile_schema.indexes import index_name_for, indexes_sync_all
from profile_schema.services import profile_field_create
from profile_schema.statistics import statistics_sync

ROWS = 100_000


def seed(channel: Channel, rows: int, offset: int = 0) -> None:
    """ROWS contacts made in SQL: 1 in 100 gold, vip and with a coupon, 1 in 2 tagged half;
    unique emails and phones; ranks 1 to ROWS in each channel."""
    defaults = contact_defaults()
    computed = {
        "channel_id": "%(channel)s",
        "member_id": "CASE WHEN n %% 3 = 0 THEN 'm-' || n END",
        "profile": (
            "jsonb_build_object('name', 'name' || n, 'email', 'user' || n || '@mail.example',"
            " 'mobileNumber', '+8210' || lpad((10000000 + n)::text, 8, '0'),"
            " 'grade', CASE WHEN n %% 100 = 0 THEN 'gold' ELSE 'basic' END, 'age', n %% 90,"
            " 'rank', n - %(start)s + 1)"
            " || CASE WHEN n %% 100 = 0 THEN jsonb_build_object('coupon', 'C' || n)"
            " ELSE '{}'::jsonb END"
        ),
        "tags": (
            "CASE WHEN n %% 100 = 0 THEN ARRAY['vip', 'half']::varchar[]"
            " WHEN n %% 2 = 0 THEN ARRAY['half']::varchar[] ELSE ARRAY[]::varchar[] END"
        ),
        "last_seen_at": "now() - (n || ' minutes')::interval",
        "created_at": "now()",
        "updated_at": "now()",
    }
    columns = [*computed, *[c for c in defaults if c not in computed and c != "profile"]]
    values = [computed.get(c, f"%(d_{c})s") for c in columns]
    params: dict[str, Any] = {f"d_{c}": v for c, v in defaults.items()}
    params.update(channel=channel.pk, start=offset + 1, stop=offset + rows)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(
            f"INSERT INTO contacts_contact ({', '.join(columns)}) "  # noqa: S608 - test constants
            f"SELECT {', '.join(values)} FROM generate_series(%(start)s, %(stop)s) AS n",
            params,
        )
        cursor.execute("ANALYZE contacts_contact")


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any) -> Any:
    """A big tenant (100,000 contacts) and a small one, committed once for this module."""
    with django_db_blocker.unblock():
        big_channel = channel_provision(name="Big tenant")
        small_channel = channel_provision(name="Small tenant")
        profile_field_create(channel=big_channel, key="grade", name="Grade", type="string")
        profile_field_create(channel=big_channel, key="age", name="Age", type="number")
        profile_field_create(channel=big_channel, key="coupon", name="Coupon", type="string")
        # marked indexed: its index and statistics made here, as the job and the sync would
        profile_field_create(
            channel=big_channel, key="rank", name="Rank", type="number", indexed=True
        )
        indexes_sync_all()
        statistics_sync()
        seed(big_channel, ROWS)
        seed(small_channel, ROWS // 4, offset=ROWS)
    yield big_channel
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        ids = [big_channel.pk, small_channel.pk]
        cursor.execute("DELETE FROM contacts_contact WHERE channel_id = ANY(%s)", [ids])
        Channel.objects.filter(pk__in=ids).delete()
        indexes_sync_all()  # drops the index no field names any more
        statistics_sync()
        # and the statistics sync the fields' creation queued (no worker runs it here)
        PeriodicSchedule.objects.all().delete()
        DBTaskResult.objects.all().delete()
        # The fields' creation was audited; the log is append-only, TRUNCATE is its reset.
        cursor.execute("TRUNCATE crm_auditevent")


@pytest.fixture
def big(seeded: Channel, db: None) -> Viewer:
    return Viewer(channel=seeded, permissions=ALL_PERMISSIONS)


def plan_indexes(queryset: Any) -> set[str]:
    """Names of the indexes in QUERYSET's plan."""
    plan = json.loads(queryset.explain(format="json"))
    found: set[str] = set()

    def visit(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            found.add(node["Index Name"])
        for child in node.get("Plans", []):
            visit(child)

    visit(plan[0]["Plan"])
    return found


def cond(key: str, operator: str, *values: Any) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("condition", "index"),
    [
        (cond("profile.grade", "eq", "gold"), "contact_profile_gin"),
        (cond("profile.grade", "in", "gold", "silver"), "contact_profile_gin"),
        (cond("profile.coupon", "in", "C100", "C200", "C300"), "contact_profile_gin"),
        (cond("tags", "hasAny", "vip"), "contact_tags_gin"),
        (cond("tags", "hasAll", "vip"), "contact_tags_gin"),
        (cond("memberId", "in", "m-300", "m-600"), "contact_member_id_per_channel"),
    ],
)
def test_indexed_operators_use_their_index(
    big: Viewer, condition: dict[str, Any], index: str
) -> None:
    assert index in plan_indexes(contact_filtered(viewer=big, filter=condition))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("name1234", "contact_name_trgm"),
        ("1001-2345", "contact_mobile_trgm"),  # digits from anywhere in the number
    ],
)
def test_quick_search_for_a_substring_uses_the_trigram_indexes(
    big: Viewer, query: str, index: str
) -> None:
    assert index in plan_indexes(contact_filtered(viewer=big, query=query))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "index", "one"),
    [
        ("010-1001-2345", "contact_mobile_prefix", True),  # a whole number, as people type it
        ("+821010012345", "contact_mobile_prefix", True),
        ("+8210100123", "contact_mobile_prefix", False),  # the start of one: 100 contacts
        ("user1234@", "contact_email_prefix", True),
        ("USER1234@MAIL.EX", "contact_email_prefix", True),
    ],
)
def test_quick_search_for_a_prefix_uses_the_prefix_indexes(
    big: Viewer, query: str, index: str, one: bool
) -> None:
    matching = contact_filtered(viewer=big, query=query)
    plan = matching.explain()

    assert index in plan_indexes(matching)
    assert "Index Cond" in plan and "~>=~" in plan  # a range of the index, not a filter
    if one:
        # The first page of one contact reads it by the index. For a prefix of 100 contacts
        # the planner may also walk the list order and stop at 26 (about as cheap on this
        # table, and its choice moves with ANALYZE's sample), so only the count is held.
        assert index in plan_indexes(contact_list_page_query(big, query))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("010-1001-2345", "contact_mobile_prefix"),  # a whole number, as people type it
        ("+821010012345", "contact_mobile_prefix"),
        ("USER1234@MAIL.EXAMPLE", "contact_email_prefix"),
    ],
)
def test_a_whole_value_search_of_a_masked_field_is_an_equality_of_its_index(
    big: Viewer, query: str, index: str
) -> None:
    basic = Viewer(channel=big.channel, permissions=BASIC_PERMISSIONS)  # masked email, phone
    matching = contact_filtered(viewer=basic, query=query)

    assert index in plan_indexes(matching)
    assert matching.count() == 1
    assert index in plan_indexes(contact_list_page_query(basic, query))


def contact_list_page_query(viewer: Viewer, query: str, matching: Any = None) -> Any:
    """The first page's query of the contact list for QUERY, or of MATCHING (default order)."""
    from contacts import listing

    order = listing.sort_parse(None, {}, viewer)
    if matching is None:
        matching = contact_filtered(viewer=viewer, query=query)
    return matching.annotate(sort_value=order.expression).order_by(*listing._ordering(order))[:26]


@pytest.mark.django_db
def test_a_contains_filter_on_the_email_uses_its_trigram_index(big: Viewer) -> None:
    condition = cond("profile.email", "contains", "1234@mail")

    assert "contact_email_trgm" in plan_indexes(contact_filtered(viewer=big, filter=condition))


def page_querysets(viewer: Viewer, **options: Any) -> list[Any]:
    """The page querysets one contact_list_page call fetches (sliced as fetched)."""
    from contacts import listing

    captured: list[Any] = []
    original = listing._fetch

    def capture(queryset: Any, count: int, fetch: Any) -> Any:
        captured.append(queryset[:count])
        return original(queryset, count, fetch)

    listing._fetch = capture
    try:
        contact_list_page(viewer=viewer, **options)
    finally:
        listing._fetch = original
    return captured


@pytest.mark.django_db
def test_a_list_page_and_a_deep_cursor_page_walk_the_visit_index(big: Viewer) -> None:
    first = contact_list_page(viewer=big, limit=25)
    assert first.next
    captured = page_querysets(big, limit=25, since=first.next)

    assert "contact_last_seen_idx" in plan_indexes(captured[0])
    plan = captured[0].explain()
    assert "Index Cond" in plan and "last_seen_at <=" in plan.replace('"', "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("-lastSeenAt", "contact_last_seen_idx"),
        ("lastSeenAt", "contact_last_seen_idx"),
        ("name", "contact_name_sort_idx"),
        ("-name", "contact_name_sort_idx"),
        ("sessionsCount", "contact_sessions_idx"),
        ("-createdAt", "contact_created_idx"),
        ("-updatedAt", "contact_updated_idx"),
    ],
)
def test_every_sort_order_walks_its_index(big: Viewer, sort: str, index: str) -> None:
    from contacts import listing

    order = listing.sort_parse(sort, {}, big)
    page = (
        contact_filtered(viewer=big)
        .annotate(sort_value=order.expression)
        .order_by(*listing._ordering(order))[:26]
    )

    assert index in plan_indexes(page)


def index_conditions(queryset: Any, index: str) -> list[str]:
    """The Index Cond of every scan of INDEX in QUERYSET's plan ("" for a scan without one)."""
    plan = json.loads(queryset.explain(format="json"))
    found: list[str] = []

    def visit(node: dict[str, Any]) -> None:
        if node.get("Index Name") == index:
            found.append(node.get("Index Cond", ""))
        for child in node.get("Plans", []):
            visit(child)

    visit(plan[0]["Plan"])
    return found


def explained(statement: str) -> str:
    """EXPLAIN (no execution) of a captured STATEMENT, parameters already in its text."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        (cond("profile.rank", "gte", ROWS - 999), 1000),  # the oldest visitors: 1 %
        (cond("profile.rank", "between", 500, 600), 101),
        (cond("profile.rank", "lt", 50), 49),
    ],
)
def test_a_range_on_a_field_marked_indexed_is_a_range_of_its_index_in_the_count_and_page(
    big: Viewer, condition: dict[str, Any], matches: int
) -> None:
    """On every PostgreSQL: the count and the page read the per-key index as a range (its
    leading column), never whole with the range as a filter (the trap of an index led by
    channel_id, which PostgreSQL 17 and older cannot skip); and the page is picked from the
    matches, not found by walking the visit order."""
    from django.test.utils import CaptureQueriesContext

    name = index_name_for(channel_id=big.channel.pk, key="profile.rank")
    matching = contact_filtered(viewer=big, filter=condition)
    conditions = index_conditions(matching.order_by().values("pk"), name)
    assert conditions and all("profile -> 'rank'" in c for c in conditions), matching.explain()

    with CaptureQueriesContext(connection) as queries:
        page = contact_list_page(viewer=big, filter=condition, limit=25)

    assert (page.count.value, page.count.exact) == (matches, True)
    [fenced] = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("WITH matching")]
    plan = explained(fenced)
    assert f"using {name}" in plan and "contact_last_seen_idx" not in plan, plan
    assert any(
        "Index Cond:" in line and "(profile -> 'rank'::text) " in line for line in plan.split("\n")
    ), plan
    seen = [c.last_seen_at for c in page.contacts]
    assert len(seen) == min(25, matches) and seen == sorted(seen, reverse=True)


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["profile.rank", "-profile.rank"])
def test_a_sort_by_a_field_marked_indexed_walks_its_index_from_the_cursor(
    big: Viewer, sort: str
) -> None:
    name = index_name_for(channel_id=big.channel.pk, key="profile.rank")
    first = contact_list_page(viewer=big, sort=sort, limit=25)
    captured = page_querysets(big, sort=sort, limit=25, since=first.next)

    conditions = index_conditions(captured[0], name)
    assert conditions and "profile -> 'rank'" in conditions[0], captured[0].explain()


def plan_scans(sql: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (node type, relation) of every scan in the plan of the statement SQL with PARAMS."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    found: list[tuple[str, str]] = []

    def visit(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            found.append((node["Node Type"], node["Relation Name"]))
        for child in node.get("Plans", []):
            visit(child)

    visit(plan[0]["Plan"])
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("after", [0, ROWS // 2])
@pytest.mark.parametrize("name", ["vip", "half"])  # 1 in 100 holders, and 1 in 2
def test_a_tag_removal_batch_reads_contacts_by_index_only(
    big: Viewer, name: str, after: int
) -> None:
    params = {"channel": big.channel.pk, "name": name, "after": after, "size": DELETE_BATCH_SIZE}

    scans = plan_scans(TAG_REMOVAL_BATCH_SQL, params)

    assert [relation for _, relation in scans] == ["contacts_contact"] * len(scans)
    assert len(scans) >= 2  # the holders' batch, and the update of those rows
    assert ("Seq Scan", "contacts_contact") not in scans
