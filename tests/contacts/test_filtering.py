"""The filter language: validation with paths, every operator per type, bound parameters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from contacts.listing import contact_filtered
from contacts.models import Contact
from crm.errors import InvalidInput
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Permission, Viewer
from profile_schema.services import profile_field_create
from tests.contacts.factories import ContactFactory

FIELDS = [
    ("age", "number"),
    ("grade", "string"),
    ("vip", "boolean"),
    ("signupDate", "date"),
    ("lastOrderAt", "datetime"),
    ("interests", "list"),
    ("scores", "listOfNumber"),
]


@pytest.fixture
def shop(channel: Channel) -> Channel:
    for key, type_ in FIELDS:
        profile_field_create(channel=channel, key=key, name=key, type=type_)
    return channel


@pytest.fixture
def viewer(shop: Channel) -> Viewer:
    return Viewer(channel=shop, permissions=ALL_PERMISSIONS)


def person(channel: Channel, name: str, **profile: Any) -> Contact:
    return ContactFactory(channel=channel, name=name, profile={"name": name, **profile})


def names(viewer: Viewer, filter: Any = None, query: str = "") -> list[str]:
    found = contact_filtered(viewer=viewer, filter=filter, query=query)
    return sorted(found.values_list("name", flat=True))


def cond(key: str, operator: str, *values: Any) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.fixture
def people(shop: Channel) -> None:
    now_ms = int(timezone.now().timestamp() * 1000)
    person(
        shop,
        "Ahn",
        age=30,
        grade="gold",
        vip=True,
        signupDate="2024-01-15",
        lastOrderAt=now_ms - 2 * 86_400_000,
        interests=["books", "coffee"],
        scores=[1, 5],
    )
    person(
        shop,
        "Baek",
        age=41,
        grade="silver",
        vip=False,
        signupDate="2025-06-01",
        lastOrderAt=now_ms - 40 * 86_400_000,
        interests=["camping"],
        scores=[5],
    )
    person(shop, "Cho", age=0, grade="", interests=[], mobileNumber="+821012345678")
    person(shop, "Do")  # no profile values beyond the name


class TestOperators:
    @pytest.mark.django_db
    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            (cond("profile.age", "eq", 30), ["Ahn"]),
            (cond("profile.age", "neq", 30), ["Baek", "Cho", "Do"]),
            (cond("profile.age", "gt", 0), ["Ahn", "Baek"]),
            (cond("profile.age", "gte", 0), ["Ahn", "Baek", "Cho"]),
            (cond("profile.age", "lt", 31), ["Ahn", "Cho"]),
            (cond("profile.age", "lte", 41), ["Ahn", "Baek", "Cho"]),
            (cond("profile.age", "between", 1, 40), ["Ahn"]),
            (cond("profile.age", "in", 0, 41), ["Baek", "Cho"]),
            (cond("profile.age", "exists"), ["Ahn", "Baek", "Cho"]),
            (cond("profile.age", "notExists"), ["Do"]),
            (cond("profile.grade", "eq", "gold"), ["Ahn"]),
            (cond("profile.grade", "contains", "IL"), ["Baek"]),
            (cond("profile.grade", "notContains", "il"), ["Ahn", "Cho", "Do"]),
            (cond("profile.grade", "startsWith", "go"), ["Ahn"]),
            (cond("profile.grade", "in", "gold", "silver"), ["Ahn", "Baek"]),
            (cond("profile.grade", "exists"), ["Ahn", "Baek", "Cho"]),
            (cond("profile.vip", "eq", False), ["Baek"]),
            (cond("profile.vip", "neq", True), ["Baek", "Cho", "Do"]),
            (cond("profile.vip", "exists"), ["Ahn", "Baek"]),
            (cond("profile.signupDate", "before", "2025-01-01"), ["Ahn"]),
            (cond("profile.signupDate", "after", "2024-01-15"), ["Baek"]),
            (cond("profile.signupDate", "eq", "2024-01-15"), ["Ahn"]),
            (cond("profile.signupDate", "between", "2024-01-15", "2025-06-01"), ["Ahn", "Baek"]),
            (cond("profile.lastOrderAt", "withinLastDays", 7), ["Ahn"]),
            (cond("profile.lastOrderAt", "moreThanDaysAgo", 30), ["Baek"]),
            (cond("profile.interests", "hasAny", "coffee", "camping"), ["Ahn", "Baek"]),
            (cond("profile.interests", "hasAll", "books", "coffee"), ["Ahn"]),
            (cond("profile.interests", "hasNone", "books"), ["Baek", "Cho", "Do"]),
            (cond("profile.interests", "exists"), ["Ahn", "Baek", "Cho"]),
            (cond("profile.scores", "hasAny", 5), ["Ahn", "Baek"]),
            (cond("profile.mobileNumber", "eq", "010-1234-5678"), ["Cho"]),
        ],
    )
    def test_profile_operators(
        self, viewer: Viewer, people: None, condition: dict, expected: list[str]
    ) -> None:
        assert names(viewer, condition) == expected

    @pytest.mark.django_db
    def test_exists_is_distinct_from_false_zero_and_empty(
        self, viewer: Viewer, people: None
    ) -> None:
        assert names(viewer, cond("profile.age", "eq", 0)) == ["Cho"]
        assert names(viewer, cond("profile.grade", "eq", "")) == ["Cho"]
        assert names(viewer, cond("profile.interests", "notExists")) == ["Do"]

    @pytest.mark.django_db
    def test_built_in_columns_and_tags(self, shop: Channel, viewer: Viewer) -> None:
        now = timezone.now()
        ContactFactory(
            channel=shop,
            name="Eun",
            member_id="m-1",
            tags=["vip", "gold"],
            sessions_count=9,
            last_seen_at=now - timedelta(days=1),
            city="Seoul",
        )
        ContactFactory(
            channel=shop,
            name="Goo",
            tags=["withdrawn"],
            sessions_count=2,
            last_seen_at=now - timedelta(days=90),
            blocked=True,
            blocked_at=now,
        )

        assert names(viewer, cond("member", "eq", True)) == ["Eun"]
        assert names(viewer, cond("memberId", "exists")) == ["Eun"]
        assert names(viewer, cond("tags", "hasAny", "gold", "withdrawn")) == ["Eun", "Goo"]
        assert names(viewer, cond("tags", "hasAll", "vip", "gold")) == ["Eun"]
        assert names(viewer, cond("tags", "hasNone", "withdrawn")) == ["Eun"]
        assert names(viewer, cond("sessionsCount", "gte", 5)) == ["Eun"]
        assert names(viewer, cond("lastSeenAt", "withinLastDays", 7)) == ["Eun"]
        assert names(viewer, cond("lastSeenAt", "moreThanDaysAgo", 30)) == ["Goo"]
        assert names(viewer, cond("blocked", "eq", True)) == ["Goo"]
        assert names(viewer, cond("city", "eq", "Seoul")) == ["Eun"]
        assert names(viewer, cond("city", "notExists")) == ["Goo"]
        assert names(viewer, cond("type", "eq", "member")) == ["Eun"]

    @pytest.mark.django_db
    def test_nested_groups(self, viewer: Viewer, people: None) -> None:
        tree = {
            "and": [
                cond("profile.age", "exists"),
                {
                    "or": [
                        cond("profile.grade", "eq", "gold"),
                        cond("profile.interests", "hasAny", "camping"),
                    ]
                },
                cond("profile.vip", "neq", True),
            ]
        }

        assert names(viewer, tree) == ["Baek"]

    @pytest.mark.django_db
    def test_relative_days_follow_the_channels_time_zone(
        self, shop: Channel, viewer: Viewer
    ) -> None:
        local_midnight = (
            timezone.now()
            .astimezone(__import__("zoneinfo").ZoneInfo(shop.timezone))
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        ContactFactory(
            channel=shop, name="Just in", last_seen_at=local_midnight + timedelta(seconds=1)
        )
        ContactFactory(
            channel=shop, name="Just out", last_seen_at=local_midnight - timedelta(seconds=1)
        )

        assert names(viewer, cond("lastSeenAt", "withinLastDays", 0)) == ["Just in"]
        assert names(viewer, cond("lastSeenAt", "moreThanDaysAgo", 0)) == ["Just out"]


class TestValidation:
    def refused(self, viewer: Viewer, tree: Any) -> list[tuple[str, str]]:
        with pytest.raises(InvalidInput) as error:
            names(viewer, tree)
        return [(p.key, p.code) for p in error.value.problems]

    @pytest.mark.django_db
    def test_every_problem_is_named_by_its_path(self, viewer: Viewer) -> None:
        tree = {
            "and": [
                cond("profile.age", "contains", "3"),
                {"or": [cond("profile.nope", "eq", 1), cond("profile.age", "gt", "thirty")]},
                cond("tags", "hasAny"),
                "not a node",
            ]
        }

        assert self.refused(viewer, tree) == [
            ("filter.and[0].operator", "invalid_operator"),
            ("filter.and[1].or[0].key", "unknown_key"),
            ("filter.and[1].or[1].values[0]", "invalid_type"),
            ("filter.and[2].values", "invalid_values"),
            ("filter.and[3]", "invalid_type"),
        ]

    @pytest.mark.django_db
    def test_the_operator_error_lists_what_the_type_allows(self, viewer: Viewer) -> None:
        with pytest.raises(InvalidInput) as error:
            names(viewer, cond("profile.vip", "gt", 1))

        assert error.value.problems[0].message == (
            "filter.operator: 'gt' does not apply to profile.vip (boolean); "
            "allowed: eq, neq, exists, notExists."
        )

    @pytest.mark.django_db
    @pytest.mark.parametrize(
        ("tree", "code"),
        [
            (cond("profile.age", "between", 40, 30), "invalid_range"),
            (cond("profile.age", "exists", 1), "invalid_values"),
            (cond("profile.age", "in", *range(1001)), "invalid_values"),
            (cond("lastSeenAt", "withinLastDays", -1), "invalid_days"),
            (cond("profile.signupDate", "before", "2025-02-30"), "invalid_date"),
            ({"and": []}, "invalid_group"),
            ({"and": [], "or": []}, "invalid_group"),
        ],
    )
    def test_bad_values_and_groups(self, viewer: Viewer, tree: Any, code: str) -> None:
        assert [c for _, c in self.refused(viewer, tree)] == [code]

    @pytest.mark.django_db
    def test_values_are_bound_parameters_never_sql(self, viewer: Viewer, people: None) -> None:
        hostile = "gold') OR 1=1 --"

        assert names(viewer, cond("profile.grade", "eq", hostile)) == []
        assert names(viewer, cond("profile.grade", "contains", "%' OR '1'='1")) == []
        assert Contact.objects.count() == 4

    @pytest.mark.django_db
    def test_keys_come_only_from_the_channels_fields(self, viewer: Viewer) -> None:
        assert self.refused(viewer, cond("profile.age') OR 1=1 --", "exists")) == [
            ("filter.key", "unknown_key")
        ]
        assert self.refused(viewer, cond("channel_id", "eq", 1)) == [("filter.key", "unknown_key")]

    @pytest.mark.django_db
    def test_masked_keys_are_filtered_only_on_whole_values_without_sensitive_view(
        self, shop: Channel, people: None
    ) -> None:
        basic = Viewer(channel=shop, permissions=frozenset({Permission.CONTACTS_VIEW}))

        assert self.refused(basic, cond("profile.mobileNumber", "exists")) == [
            ("filter.operator", "masked_key")
        ]
        assert names(basic, cond("profile.mobileNumber", "eq", "010-1234-5678")) == ["Cho"]
        assert names(basic, cond("profile.grade", "eq", "gold")) == ["Ahn"]


class TestIsolationAndSearch:
    @pytest.mark.django_db
    def test_another_channels_contacts_never_match(
        self, viewer: Viewer, people: None, other_channel: Channel
    ) -> None:
        person(other_channel, "Outsider", email="ahn@shop.example")

        assert "Outsider" not in names(viewer)
        assert names(viewer, query="ahn@") == []

    @pytest.mark.django_db
    @pytest.mark.parametrize("typed", ["010-1234-5678", "01012345678", "+821012345678", "1234-56"])
    def test_quick_search_finds_a_phone_in_any_form(
        self, viewer: Viewer, people: None, typed: str
    ) -> None:
        assert names(viewer, query=typed) == ["Cho"]

    @pytest.mark.django_db
    def test_quick_search_by_name_and_email(self, shop: Channel, viewer: Viewer) -> None:
        person(shop, "김민서", email="minseo@shop.example")
        person(shop, "이민호", email="minho@shop.example")

        assert names(viewer, query="민") == ["김민서", "이민호"]
        assert names(viewer, query="MINSEO@") == ["김민서"]

    @pytest.mark.django_db
    def test_quick_search_finds_masked_fields_only_by_whole_values_without_sensitive_view(
        self, shop: Channel
    ) -> None:
        person(shop, "Kim", mobileNumber="+821099998888")
        basic = Viewer(channel=shop, permissions=frozenset({Permission.CONTACTS_VIEW}))
        owner = Viewer(channel=shop, permissions=ALL_PERMISSIONS)

        assert names(basic, query="010-9999-8888") == ["Kim"]
        assert names(basic, query="010-9999-888") == []
        assert names(basic, query="9999-8888") == []
        assert names(owner, query="010-9999-888") == ["Kim"]

    @pytest.mark.django_db
    def test_a_segment_is_usable_as_a_condition(
        self, shop: Channel, viewer: Viewer, people: None
    ) -> None:
        from contacts.services.segments import segment_create

        gold = segment_create(
            viewer=viewer, name="Gold", filter=cond("profile.grade", "eq", "gold")
        )

        assert names(viewer, cond("segment", "eq", gold.pk)) == ["Ahn"]
        assert names(viewer, cond("segment", "neq", gold.pk)) == ["Baek", "Cho", "Do"]

    @pytest.mark.django_db
    def test_another_channels_segment_is_unknown(
        self, viewer: Viewer, other_channel: Channel
    ) -> None:
        from contacts.services.segments import segment_create

        theirs = segment_create(
            viewer=Viewer(channel=other_channel, permissions=ALL_PERMISSIONS), name="X", filter={}
        )

        with pytest.raises(InvalidInput) as error:
            names(viewer, cond("segment", "eq", theirs.pk))
        assert error.value.problems[0].code == "unknown_segment"
