"""Text PostgreSQL cannot store is refused at the door with a 400, never a server error."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from contacts.models import Contact
from crm.models import Channel
from tests.api_clients import credential_client
from tests.contacts.sdk_client import Sdk


@pytest.fixture
def api(channel: Channel) -> Client:
    return credential_client(channel)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["users/@m%00x", "user-tags/a%00b", "profile-fields/profile.a%00", "users?query=a%00b"]
)
def test_a_nul_in_the_address_is_a_400(api: Client, path: str) -> None:
    response = api.get(f"/open/v5/{path}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_character"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"profile": {"email": "a@b.example", "name": "a\u0000b"}},
        {"profile": {"email": "a@b.example"}, "tags": ["ok", "\ud800"]},
        {"profile": {"email": "a@b.example", "x\u0000": 1}},
    ],
)
def test_a_nul_or_lone_surrogate_in_a_body_is_a_400_naming_where(api: Client, body: dict) -> None:
    response = api.post("/open/v5/users", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_character"
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_the_sdk_refuses_unstorable_event_properties(channel: Channel) -> None:
    sdk = Sdk(channel.plugin_key)
    sdk.boot()

    response = sdk.call("events", {"name": "Viewed", "property": {"note": "a\u0000"}})

    assert response.status_code == 400
    assert response.json()["errors"][0]["key"] == "property.note"


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["\u00b2", "0", "501", "-1", "99999999999999999999999"])
def test_odd_numbers_in_the_query_are_400s(api: Client, limit: str) -> None:
    assert api.get("/open/v5/users", {"limit": limit}).status_code == 400


@pytest.mark.django_db
def test_a_far_date_in_a_filter_is_not_a_server_error(api: Client) -> None:
    tree = {"key": "lastSeenAt", "operator": "before", "values": ["0001-01-01"]}

    response = api.post(
        "/open/v5/users/search", json.dumps({"filter": tree}), content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["users"] == []
