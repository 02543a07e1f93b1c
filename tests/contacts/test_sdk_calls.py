"""/sdk/v1/user, /events and /tags after a boot, and the rate limit of /sdk/v1."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Event, Tag
from contacts.services.activity import month_of
from crm.models import Channel
from profile_schema.models import FieldType, ProfileField
from profile_schema.services import profile_field_type_change
from tests.contacts.sdk_client import Sdk


@pytest.fixture
def booted(channel: Channel) -> Sdk:
    sdk = Sdk(channel)
    assert sdk.boot(memberId="m-1", profile={"name": "Kim"}, tags=["vip"]).status_code == 200
    return sdk


@pytest.mark.django_db
def test_update_user_sets_removes_and_fills_once(booted: Sdk) -> None:
    booted.call("user", {"profile": {"email": "kim@shop.example"}})

    response = booted.call(
        "user",
        {
            "profile": {"name": None, "landlineNumber": "02-555-1234"},
            "profileOnce": {"email": "other@shop.example", "description": "VIP since 2020"},
        },
    )

    assert response.status_code == 200
    assert response.json()["user"]["profile"] == {
        "email": "kim@shop.example",
        "landlineNumber": "+8225551234",
        "description": "VIP since 2020",
    }
    assert response.json()["user"]["name"] == ""


@pytest.mark.django_db
def test_update_user_replaces_the_tags(booted: Sdk) -> None:
    response = booted.call("user", {"tags": ["gold", "newsletter"]})

    assert response.json()["user"]["tags"] == ["gold", "newsletter"]


@pytest.mark.django_db
def test_update_user_refuses_bad_values_and_changes_nothing(booted: Sdk) -> None:
    response = booted.call("user", {"profile": {"email": "x", "name": "Lee"}, "tags": ["a b"]})

    assert response.status_code == 400
    assert sorted(e["key"] for e in response.json()["errors"]) == ["profile.email", "tags"]
    contact = Contact.objects.get(member_id="m-1")
    assert (contact.name, contact.tags) == ("Kim", ["vip"])


@pytest.mark.django_db
def test_calls_without_a_valid_session_token_are_401(booted: Sdk) -> None:
    booted.token = booted.token[:-2] + ("AA" if not booted.token.endswith("AA") else "BB")

    response = booted.call("user", {"profile": {"name": "Lee"}})

    assert response.status_code == 401
    assert Contact.objects.get(member_id="m-1").name == "Kim"
    booted.token = None
    assert booted.call("tags", {"add": ["x"]}).status_code == 401


@pytest.mark.django_db
def test_tags_are_added_and_removed(booted: Sdk) -> None:
    booted.call("tags", {"add": ["gold", "VIP"]})

    response = booted.call("tags", {"add": ["sale"], "remove": ["vip"]})

    assert response.json()["user"]["tags"] == ["gold", "sale"]
    assert set(Tag.objects.values_list("name", flat=True)) == {"vip", "gold", "sale"}


@pytest.mark.django_db
def test_a_21st_tag_is_refused(booted: Sdk) -> None:
    booted.call("user", {"tags": [f"t{n}" for n in range(20)]})

    response = booted.call("tags", {"add": ["one-more"]})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_many_tags"
    assert len(Contact.objects.get(member_id="m-1").tags) == 20


@pytest.mark.django_db
def test_an_event_is_recorded_with_its_properties(booted: Sdk) -> None:
    response = booted.call(
        "events", {"name": "ProductView", "property": {"sku": "A-1", "price": 12000}}
    )

    assert response.status_code == 200
    event = Event.objects.get()
    assert (event.name, event.properties) == ("ProductView", {"sku": "A-1", "price": 12000})
    assert response.json()["event"]["id"] == str(event.pk)


@pytest.mark.django_db
def test_a_checkout_event_updates_the_last_checkout_time(booted: Sdk) -> None:
    response = booted.call("events", {"name": "CheckoutComplete", "property": {"total": 39000}})

    event = Event.objects.get(name="CheckoutComplete")
    moment = int(event.created_at.timestamp() * 1000)
    assert response.json()["user"]["profile"]["lastCheckoutCompletedAt"] == moment


@pytest.mark.django_db
def test_a_checkout_writes_the_time_only_while_the_field_is_a_datetime(
    booted: Sdk, channel: Channel
) -> None:
    field = ProfileField.objects.get(channel=channel, key="profile.lastCheckoutCompletedAt")
    profile_field_type_change(field=field, type=FieldType.STRING)

    with CaptureQueriesContext(connection) as ran:
        response = booted.call("events", {"name": "CheckoutComplete", "property": {}})

    assert response.status_code == 200
    assert Event.objects.filter(name="CheckoutComplete").exists()
    assert "lastCheckoutCompletedAt" not in response.json()["user"]["profile"]
    assert any("profile_schema_read_lock" in q["sql"] for q in ran.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "key", "code"),
    [
        ({"name": "x" * 31}, "name", "too_long"),
        ({"name": ""}, "name", "required"),
        ({"name": "Ok", "property": {"note": "가" * 171}}, "property.note", "too_long"),
        # {"items":["…"]} is 14 bytes around the string: 4,083 + 14 = 4,097 bytes.
        ({"name": "Ok", "property": {"items": ["x" * 4083]}}, "property", "too_large"),
        ({"name": "Ok", "property": [1, 2]}, "property", "invalid_type"),
    ],
)
def test_events_past_their_limits_are_refused(booted: Sdk, body: dict, key: str, code: str) -> None:
    response = booted.call("events", body)

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [(key, code)]
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_events_at_their_limits_are_accepted(booted: Sdk) -> None:
    string_at_limit = {"note": "가" * 170 + "ab"}  # 512 bytes in UTF-8
    nested_at_limit = {"items": ["x" * 4082]}  # 4,096 bytes as JSON

    first = booted.call("events", {"name": "x" * 30, "property": string_at_limit})
    second = booted.call("events", {"name": "Nested", "property": nested_at_limit})

    assert (first.status_code, second.status_code) == (200, 200)
    assert Event.objects.count() == 2


@pytest.mark.django_db
@override_settings(SDK_RATE_LIMIT_PER_ADDRESS="3/60")
def test_the_rate_limit_answers_429_with_retry_after(channel: Channel) -> None:
    sdk = Sdk(channel, address="198.51.100.9")
    statuses = [sdk.boot().status_code for _ in range(4)]

    refused = sdk.boot()

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["type"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["x-ratelimit-remaining"] == "0"
    assert Sdk(channel, address="198.51.100.10").boot().status_code == 200


@pytest.mark.django_db
def test_mau_reports_contacts_whose_data_changed_this_month(booted: Sdk, channel: Channel) -> None:
    Sdk(channel).boot()
    month = month_of(channel, Contact.objects.get(member_id="m-1").updated_at)
    out = StringIO()

    call_command("mau", "--month", f"{month:%Y-%m}", "--json", stdout=out)

    assert '"mau": 2' in out.getvalue()
