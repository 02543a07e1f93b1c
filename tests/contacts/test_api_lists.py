"""/open/v5/users (list), /users/search and /segments over HTTP with API credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import Segment
from crm.models import Channel
from profile_schema.models import FieldType
from profile_schema.services import profile_field_create
from tests.api_clients import credential_client as api_client
from tests.contacts.factories import ContactFactory


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(f"/open/v5/{path}", json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(f"/open/v5/{path}", json.dumps(body), content_type="application/json")


@pytest.fixture
def owner(channel: Channel) -> Client:
    return api_client(channel)


@pytest.mark.django_db
def test_search_filters_pages_and_counts(owner: Client, channel: Channel) -> None:
    for n in range(5):
        ContactFactory(channel=channel, name=f"vip {n}", tags=["vip"])
    ContactFactory(channel=channel, name="other")

    first = post(
        owner,
        "users/search",
        {
            "filter": {"key": "tags", "operator": "hasAny", "values": ["vip"]},
            "limit": 2,
            "sort": "name",
        },
    )
    body = first.json()

    assert first.status_code == 200
    assert [u["name"] for u in body["users"]] == ["vip 0", "vip 1"]
    assert body["count"] == {"value": 5, "exact": True}
    second = post(
        owner,
        "users/search",
        {
            "filter": {"key": "tags", "operator": "hasAny", "values": ["vip"]},
            "limit": 2,
            "sort": "name",
            "since": body["next"],
        },
    ).json()
    assert [u["name"] for u in second["users"]] == ["vip 2", "vip 3"]
    assert first["x-ratelimit-limit"] == "1200"


@pytest.mark.django_db
def test_a_bad_filter_is_a_400_naming_the_condition(owner: Client) -> None:
    response = post(
        owner,
        "users/search",
        {
            "filter": {
                "and": [
                    {"key": "profile.nope", "operator": "eq", "values": [1]},
                    {"key": "sessionsCount", "operator": "contains", "values": ["x"]},
                ]
            }
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert [e["key"] for e in body["errors"]] == ["filter.and[0].key", "filter.and[1].operator"]


@pytest.mark.django_db
def test_lists_need_credentials_and_contacts_view(channel: Channel) -> None:
    assert post(Client(), "users/search", {}).status_code == 401
    wrong = Client(headers={"x-access-key": "nope", "x-access-secret": "nope"})
    assert post(wrong, "users/search", {}).json()["type"] == "authentication_failed"
    exporter = api_client(channel, "exporter", ["contacts_export"])
    denied = post(exporter, "users/search", {})
    assert (denied.status_code, denied.json()["type"]) == (403, "permission_denied")


@pytest.mark.django_db
def test_another_channels_contacts_and_cursors_stay_out(
    owner: Client, channel: Channel, other_channel: Channel
) -> None:
    ContactFactory(channel=channel, name="ours")
    ContactFactory.create_batch(2, channel=other_channel, name="theirs")
    theirs = api_client(other_channel)
    cursor = post(theirs, "users/search", {"limit": 1}).json()["next"]

    ours = post(owner, "users/search", {}).json()
    foreign = post(owner, "users/search", {"since": cursor})

    assert [u["name"] for u in ours["users"]] == ["ours"]
    assert (foreign.status_code, foreign.json()["type"]) == (404, "not_found")


@pytest.mark.django_db
def test_a_list_request_runs_a_fixed_number_of_queries(owner: Client, channel: Channel) -> None:
    ContactFactory.create_batch(2, channel=channel)
    with CaptureQueriesContext(connection) as first:
        post(owner, "users/search", {"limit": 50})
    with CaptureQueriesContext(connection) as few:
        post(owner, "users/search", {"limit": 50})
    ContactFactory.create_batch(40, channel=channel)

    with CaptureQueriesContext(connection) as many:
        response = post(owner, "users/search", {"limit": 50})

    assert len(response.json()["users"]) == 42
    # 12: the count asks the planner first (EXPLAIN), then counts a small channel exactly.
    assert len(many.captured_queries) == len(few.captured_queries) <= 12
    # The first request of the process loads the field definitions; the next ones reuse them.
    loads = [q["sql"] for q in first.captured_queries if "profile_schema_profilefield" in q["sql"]]
    assert len(loads) == 1
    assert not [q for q in few.captured_queries if "profile_schema_profilefield" in q["sql"]]


@pytest.mark.django_db
def test_a_changed_field_reaches_the_next_list_request(owner: Client, channel: Channel) -> None:
    post(owner, "users/search", {"limit": 5})  # the definitions are now cached
    refused = post(owner, "users/search", {"filter": _points_at_least(10)})
    profile_field_create(channel=channel, key="points", name="Points", type=FieldType.NUMBER)

    accepted = post(owner, "users/search", {"filter": _points_at_least(10)})

    assert refused.status_code == 400
    assert accepted.status_code == 200


def _points_at_least(value: int) -> dict[str, Any]:
    return {"and": [{"key": "profile.points", "operator": "gte", "values": [value]}]}


class TestSegments:
    @pytest.mark.django_db
    def test_create_read_update_list_members_and_delete(
        self, owner: Client, channel: Channel
    ) -> None:
        ContactFactory(channel=channel, name="vip", tags=["vip"])
        ContactFactory(channel=channel, name="plain")
        created = post(
            owner,
            "segments",
            {"name": "VIPs", "filter": {"key": "tags", "operator": "hasAny", "values": ["vip"]}},
        )
        assert created.status_code == 201
        segment_id = created.json()["segment"]["id"]

        members = owner.get(f"/open/v5/segments/{segment_id}/users").json()
        assert [u["name"] for u in members["users"]] == ["vip"]
        renamed = patch(owner, f"segments/{segment_id}", {"name": "Top customers"})
        assert renamed.json()["segment"]["name"] == "Top customers"
        listed = owner.get("/open/v5/segments").json()["segments"]
        assert [s["name"] for s in listed] == ["Top customers"]
        used = post(
            owner,
            "users/search",
            {"filter": {"key": "segment", "operator": "neq", "values": [int(segment_id)]}},
        )
        assert [u["name"] for u in used.json()["users"]] == ["plain"]
        assert owner.delete(f"/open/v5/segments/{segment_id}").status_code == 204
        assert not Segment.objects.exists()

    @pytest.mark.django_db
    def test_a_duplicate_name_is_a_conflict(self, owner: Client) -> None:
        post(owner, "segments", {"name": "VIPs", "filter": {}})

        response = post(owner, "segments", {"name": "VIPs", "filter": {}})

        assert (response.status_code, response.json()["type"]) == (409, "conflict")
        assert Segment.objects.count() == 1

    @pytest.mark.django_db
    def test_an_invalid_filter_is_refused_and_nothing_saved(self, owner: Client) -> None:
        response = post(
            owner,
            "segments",
            {"name": "Bad", "filter": {"key": "profile.nope", "operator": "eq", "values": [1]}},
        )

        assert response.status_code == 400
        assert response.json()["errors"][0]["key"] == "filter.key"
        assert not Segment.objects.exists()

    @pytest.mark.django_db
    def test_another_channels_segment_is_not_found(
        self, owner: Client, other_channel: Channel
    ) -> None:
        theirs = post(
            api_client(other_channel), "segments", {"name": "Theirs", "filter": {}}
        ).json()["segment"]["id"]

        assert owner.get(f"/open/v5/segments/{theirs}").status_code == 404
        assert owner.get(f"/open/v5/segments/{theirs}/users").status_code == 404
        assert patch(owner, f"segments/{theirs}", {"name": "Mine"}).status_code == 404
        assert owner.delete(f"/open/v5/segments/{theirs}").status_code == 404
        assert Segment.objects.get().name == "Theirs"

    @pytest.mark.django_db
    def test_writing_segments_needs_contacts_edit(self, channel: Channel) -> None:
        viewer_only = api_client(channel, "viewer", ["contacts_view"])

        response = post(viewer_only, "segments", {"name": "X", "filter": {}})

        assert response.status_code == 403
        assert not Segment.objects.exists()


@pytest.mark.django_db
def test_get_users_lists_with_query_filter_and_sort(owner: Client, channel: Channel) -> None:
    ContactFactory(
        channel=channel, name="김민서", profile={"name": "김민서", "email": "minseo@shop.example"}
    )
    ContactFactory(channel=channel, name="이민호", tags=["vip"])
    ContactFactory(channel=channel, name="박서준", tags=["vip"])
    tree = json.dumps({"key": "tags", "operator": "hasAny", "values": ["vip"]})

    searched = owner.get("/open/v5/users", {"query": "minseo@"}).json()
    filtered = owner.get("/open/v5/users", {"filter": tree, "sort": "-name"}).json()
    bad = owner.get("/open/v5/users", {"filter": "{not json", "limit": "0"})

    assert [u["name"] for u in searched["users"]] == ["김민서"]
    assert [u["name"] for u in filtered["users"]] == ["이민호", "박서준"]
    assert filtered["count"] == {"value": 2, "exact": True} and filtered["next"] is None
    assert bad.status_code == 400
    assert sorted(e["key"] for e in bad.json()["errors"]) in (["filter"], ["limit"])


@pytest.mark.django_db
def test_get_and_post_users_share_the_path(owner: Client) -> None:
    created = post(owner, "users", {"profile": {"email": "new@shop.example"}})

    listed = owner.get("/open/v5/users").json()

    assert created.status_code == 201
    assert [u["profile"]["email"] for u in listed["users"]] == ["n**@shop.example"]
    assert [u["id"] for u in listed["users"]] == [created.json()["user"]["id"]]


@pytest.mark.django_db
def test_unknown_keys_and_parameters_are_refused_not_ignored(owner: Client) -> None:
    searched = post(owner, "users/search", {"filters": {"key": "tags"}})
    listed = owner.get("/open/v5/users", {"filtr": "{}"})
    created = post(owner, "segments", {"name": "X", "filter": {}, "filtr": {}})

    assert (searched.status_code, searched.json()["errors"][0]["key"]) == (400, "filters")
    assert (listed.status_code, listed.json()["errors"][0]["key"]) == (400, "filtr")
    assert created.status_code == 400
    assert not Segment.objects.exists()


@pytest.mark.django_db
def test_a_masked_key_cannot_sort_for_a_role_without_sensitive_view(channel: Channel) -> None:
    from profile_schema.models import ProfileField

    ProfileField.objects.filter(channel=channel, key="profile.email").update(indexed=True)
    viewer_only = api_client(channel, "viewer", ["contacts_view"])

    response = viewer_only.get("/open/v5/users", {"sort": "profile.email"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "masked_key"
