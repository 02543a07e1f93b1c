"""The REST API never lets a sensitive value out: every answer carrying a user object, event,
segment or conversation shows it masked, to a basic credential and to an owner's alike, and no
refusal echoes one. Contacts hold unique marker strings; a marker in any answer is a leak."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from contacts.models import Contact, Segment
from contacts.services.tags import tag_catalogue_ensure
from crm import services
from crm.models import Channel
from crm.permissions import BASIC_PERMISSIONS, Permission
from profile_schema.models import Masking, ProfileField
from profile_schema.services import profile_field_create, profile_field_update
from tests.contacts.factories import EventFactory, MemberFactory

EMAIL = "leak-marker-7f3a@example.com"
MOBILE = "+821055512345"
CODE = "leak-marker-code-91b2"
NAME = "Zqleakname"
INCOME = 987654321
# What must never appear in an answer, in any form people write it.
MARKERS = (
    EMAIL,
    "leak-marker-7f3a",
    MOBILE,
    "1055512345",
    "5551-2345",
    "5551 2345",
    CODE,
    NAME,
    str(INCOME),
)
SENSITIVE = {"name", "profile.name", "profile.email", "profile.mobileNumber"} | {
    "profile.secretCode",
    "profile.income",
}
SHOWN_PROFILE = {
    "name": "********",
    "email": "lea*************@example.com",
    "mobileNumber": "010-****-2345",
    "secretCode": "********",
    "income": "********",
    "grade": "gold",
}


class Api:
    """/open/v5 through Django's request handling, with a new API credential of ROLE."""

    def __init__(self, channel: Channel, role: str) -> None:
        found = services.role_get(channel=channel, name=role)
        issued = services.credential_create(channel=channel, role=found, name=f"{role} sync")
        self.credential = issued.credential
        self.headers = {
            "x-access-key": issued.credential.access_key,
            "x-access-secret": issued.secret,
        }
        self.client = Client()

    def call(self, method: str, path: str, body: Any = None) -> HttpResponse:
        data = "" if body is None else json.dumps(body)
        return self.client.generic(
            method,
            f"/open/v5/{path}",
            data,
            content_type="application/json",
            headers=self.headers,
        )

    def get(self, path: str, **params: Any) -> HttpResponse:
        return self.client.get(f"/open/v5/{path}", params, headers=self.headers)


def leaks(response: HttpResponse, markers: Iterable[str] = MARKERS) -> list[str]:
    """The markers found anywhere in RESPONSE: its body or its headers."""
    seen = response.content.decode() + json.dumps(dict(response.headers))
    return [marker for marker in markers if marker in seen]


def secret_fields(channel: Channel) -> None:
    """The channel's name is sensitive (full), and two custom fields: a code and an income."""
    profile_field_update(
        field=ProfileField.objects.get(channel=channel, key="profile.name"),
        sensitive=True,
        masking=Masking.FULL,
    )
    profile_field_create(
        channel=channel, key="secretCode", name="Code", type="string", sensitive=True
    )
    profile_field_create(
        channel=channel, key="income", name="Income", type="number", sensitive=True
    )
    profile_field_create(channel=channel, key="grade", name="Grade", type="string")


def role_add(channel: Channel, name: str, permissions: Iterable[str]) -> str:
    services.role_create(channel=channel, name=name, permissions=sorted(permissions))
    return name


@pytest.fixture
def shop(channel: Channel) -> Channel:
    secret_fields(channel)
    # A basic role that may also block, and one that holds everything but sensitive_view.
    role_add(channel, "basic-block", {*BASIC_PERMISSIONS, Permission.BLOCK})
    everything = {p for p in Permission.values if p != Permission.SENSITIVE_VIEW}
    role_add(channel, "all-but-reveal", everything)
    return channel


@pytest.fixture
def secretive(shop: Channel) -> Contact:
    """A member whose every sensitive value is a marker, with a non-sensitive grade."""
    contact = MemberFactory(
        channel=shop,
        member_id="m-leak",
        profile={
            "name": NAME,
            "email": EMAIL,
            "mobileNumber": MOBILE,
            "secretCode": CODE,
            "income": INCOME,
            "grade": "gold",
        },
        tags=["vip"],
    )
    tag_catalogue_ensure(channel=shop, tags=["vip"])
    EventFactory(
        contact=contact,
        name="OrderPlaced",
        properties={
            "note": f"call 010-5551-2345 or write {EMAIL}",
            "code": CODE,
            "items": [{"memo": f"for {NAME}"}],
            "total": 12000,
        },
    )
    return contact


ROLES = ["basic", "owner"]


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def user_checked(user: dict[str, Any]) -> None:
    """USER is the marker contact as a viewer without a reveal sees it."""
    assert user["profile"] == SHOWN_PROFILE
    assert user["name"] == "********"
    assert set(user["masked"]) == SENSITIVE
    assert (user["memberId"], user["tags"]) == ("m-leak", ["vip"])


# --- every answer carrying a user object ---------------------------------------------------


@pytest.mark.django_db
def test_get_and_get_by_member_id_are_masked(shop: Channel, secretive: Contact, role: str) -> None:
    api = Api(shop, role)

    for response in (api.get(f"users/{secretive.pk}"), api.get("users/@m-leak")):
        assert response.status_code == 200
        user_checked(response.json()["user"])
        assert leaks(response) == []


@pytest.mark.django_db
def test_lists_searches_and_segment_users_are_masked(
    shop: Channel, secretive: Contact, role: str
) -> None:
    api = Api(shop, role)
    segment = Segment.objects.create(
        channel=shop,
        name="Gold",
        filter={"key": "profile.grade", "operator": "eq", "values": ["gold"]},
    )

    answers = [
        api.get("users"),
        api.get("users", query=EMAIL),
        api.get("users", query="010-5551-2345"),
        api.call("POST", "users/search", {"query": "+821055512345"}),
        api.call(
            "POST",
            "users/search",
            {"filter": {"key": "profile.email", "operator": "eq", "values": [EMAIL]}},
        ),
        api.get(f"segments/{segment.pk}/users"),
    ]

    for response in answers:
        assert response.status_code == 200, response.content
        [user] = response.json()["users"]
        user_checked(user)
        assert leaks(response) == []


@pytest.mark.django_db
def test_writes_answer_the_user_masked(shop: Channel, secretive: Contact) -> None:
    for role, permissions_from in (("basic-block", "basic"), ("owner", "owner")):
        api = Api(shop, role)
        answers = [
            api.call("PATCH", f"users/{secretive.pk}", {"profile": {"grade": "gold"}}),
            api.call("PUT", "users/@m-leak", {"profileOnce": {"grade": "silver"}}),
            api.call("POST", f"users/{secretive.pk}/block", {"reason": "spam"}),
            api.call("DELETE", f"users/{secretive.pk}/block"),
            api.call("POST", f"users/{secretive.pk}/touch"),
        ]
        for response in answers:
            assert response.status_code == 200, (permissions_from, response.content)
            user_checked(response.json()["user"])
            assert leaks(response) == []
    secretive.refresh_from_db()
    assert (secretive.profile["email"], secretive.profile["mobileNumber"]) == (EMAIL, MOBILE)


@pytest.mark.django_db
def test_creating_a_user_answers_what_was_sent_masked(shop: Channel, role: str) -> None:
    api = Api(shop, role)

    created = api.call(
        "POST",
        "users",
        {"profile": {"name": NAME, "email": EMAIL, "mobileNumber": "010-5551-2345", "grade": "a"}},
    )
    upserted = api.call("PUT", "users/@m-new", {"profile": {"secretCode": CODE, "income": INCOME}})

    assert (created.status_code, upserted.status_code) == (201, 201)
    assert leaks(created) == leaks(upserted) == []
    user = created.json()["user"]
    assert user["profile"]["grade"] == "a"
    assert set(user["masked"]) == {"name", "profile.name", "profile.email", "profile.mobileNumber"}
    # Without a name there is nothing to hide: the built-in name "" is shown as it is.
    assert upserted.json()["user"]["name"] == ""
    assert set(upserted.json()["user"]["masked"]) == {"profile.secretCode", "profile.income"}
    stored = Contact.objects.get(member_id="m-new")
    assert stored.profile == {"secretCode": CODE, "income": INCOME}


@pytest.mark.django_db
def test_masked_lists_nothing_and_masks_nothing_where_no_field_is_sensitive(
    channel: Channel,
) -> None:
    for key in ("profile.email", "profile.mobileNumber"):
        field = ProfileField.objects.get(channel=channel, key=key)
        profile_field_update(field=field, sensitive=False)
    contact = MemberFactory(channel=channel, profile={"email": EMAIL, "mobileNumber": MOBILE})

    user = Api(channel, "basic").get(f"users/{contact.pk}").json()["user"]

    assert (user["profile"], user["masked"]) == ({"email": EMAIL, "mobileNumber": MOBILE}, [])


@pytest.mark.django_db
def test_a_masked_value_is_a_string_whatever_its_type(shop: Channel, secretive: Contact) -> None:
    profile_field_create(channel=shop, key="hobbies", name="Hobbies", type="list", sensitive=True)
    Contact.objects.filter(pk=secretive.pk).update(
        profile={**secretive.profile, "hobbies": ["golf", "leak-marker-hobby"]}
    )

    response = Api(shop, "owner").get(f"users/{secretive.pk}")

    profile = response.json()["user"]["profile"]
    assert (profile["income"], profile["hobbies"]) == ("********", "********")
    assert leaks(response, ["leak-marker-hobby"]) == []


# --- events: free text ---------------------------------------------------------------------


@pytest.mark.django_db
def test_event_properties_are_masked_as_free_text(
    shop: Channel, secretive: Contact, role: str
) -> None:
    api = Api(shop, "basic-block" if role == "basic" else role)

    listed = api.get(f"users/{secretive.pk}/events")
    recorded = api.call(
        "POST",
        f"users/{secretive.pk}/events",
        {"name": "Called", "property": {"said": f"I am {NAME}, reach me at +82 10 5551 2345"}},
    )

    assert (listed.status_code, recorded.status_code) == (200, 201)
    assert leaks(listed) == leaks(recorded) == []
    [event] = listed.json()["events"]
    assert event["property"] == {
        # The contact's own values go first, then any other phone number or email.
        "note": "call 010-****-2345 or write ********",
        "code": "********",
        "items": [{"memo": "for ********"}],
        "total": 12000,
    }
    assert recorded.json()["event"]["property"] == {
        "said": "I am ********, reach me at 010-****-2345"
    }


# --- segments: a condition's values on a key the viewer may not see -----------------------


def tree(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"and": list(conditions)}


def cond(key: str, operator: str, *values: Any) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.mark.django_db
def test_segment_conditions_on_masked_keys_are_masked_for_a_basic_credential(
    shop: Channel, secretive: Contact
) -> None:
    owner, basic = Api(shop, "owner"), Api(shop, "basic")
    stored = tree(
        cond("profile.email", "in", EMAIL, "other@example.com"),
        cond("profile.mobileNumber", "eq", "010-5551-2345"),
        cond("profile.grade", "eq", "gold"),
    )
    created = owner.call("POST", "segments", {"name": "Callers", "filter": stored})
    segment_id = created.json()["segment"]["id"]

    answers = [
        basic.get("segments"),
        basic.get(f"segments/{segment_id}"),
        basic.call("PATCH", f"segments/{segment_id}", {"name": "Callers 2"}),
        basic.call(
            "POST",
            "segments",
            {"name": "Mine", "filter": cond("profile.mobileNumber", "in", "01055512345")},
        ),
    ]

    for response in answers:
        assert response.status_code in (200, 201), response.content
        assert leaks(response) == []
    shown = answers[1].json()["segment"]["filter"]
    assert shown == tree(
        cond("profile.email", "in", "lea*************@example.com", "oth**@example.com"),
        cond("profile.mobileNumber", "eq", "010-****-2345"),
        cond("profile.grade", "eq", "gold"),
    )
    assert answers[3].json()["segment"]["filter"]["values"] == ["010-****-2345"]
    # Stored as written, and the segment still finds the contact for the basic credential.
    assert Segment.objects.get(pk=segment_id).filter == stored
    users = basic.get(f"segments/{segment_id}/users").json()["users"]
    assert [u["id"] for u in users] == [str(secretive.pk)]


@pytest.mark.django_db
def test_a_masked_value_sent_back_in_a_filter_is_refused_not_stored(
    shop: Channel, secretive: Contact
) -> None:
    owner, basic = Api(shop, "owner"), Api(shop, "basic")
    stored = cond("profile.email", "eq", EMAIL)
    segment_id = owner.call("POST", "segments", {"name": "One", "filter": stored}).json()[
        "segment"
    ]["id"]
    shown = basic.get(f"segments/{segment_id}").json()["segment"]

    response = basic.call("PATCH", f"segments/{segment_id}", {"filter": shown["filter"]})

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [
        ("filter.values[0]", "masked_value")
    ]
    assert Segment.objects.get(pk=segment_id).filter == stored


# --- errors never echo a sensitive value ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("profile", "key", "code"),
    [
        ({"email": "leak-marker-7f3a@@example.com"}, "profile.email", "invalid_email"),
        ({"email": "leak-marker-7f3a"}, "profile.email", "invalid_email"),
        ({"mobileNumber": "010-5551-2345-leak-marker-7f3a"}, "profile.mobileNumber", None),
        ({"mobileNumber": "02-5551-2345"}, "profile.mobileNumber", "not_mobile_number"),
        ({"secretCode": CODE + "x" * 600}, "profile.secretCode", "too_long"),
        ({"secretCode": {"code": CODE}}, "profile.secretCode", "invalid_type"),
        ({"income": "leak-marker-7f3a"}, "profile.income", "invalid_type"),
        ({"name": ["leak-marker-7f3a"]}, "profile.name", "invalid_type"),
    ],
)
def test_a_refused_sensitive_value_is_never_echoed(
    shop: Channel, secretive: Contact, role: str, profile: dict[str, Any], key: str, code: str
) -> None:
    api = Api(shop, role)
    markers = [*MARKERS, "5551-2345", "02-5551"]

    answers = [
        api.call("PATCH", f"users/{secretive.pk}", {"profile": profile}),
        api.call("PATCH", f"users/{secretive.pk}", {"profileOnce": profile}),
        api.call("PUT", "users/@m-leak", {"profile": profile}),
        api.call("POST", "users", {"profile": {"email": "ok@example.com", **profile}}),
    ]

    for response in answers:
        assert response.status_code == 400
        assert leaks(response, markers) == []
        [problem] = [e for e in response.json()["errors"] if e["key"].endswith(key[8:])]
        assert "not shown (the field is sensitive)" in problem["message"]
        assert code is None or problem["code"] == code
    secretive.refresh_from_db()
    assert secretive.profile["email"] == EMAIL


@pytest.mark.django_db
def test_a_refused_filter_value_of_a_sensitive_key_is_never_echoed(
    shop: Channel, secretive: Contact, role: str
) -> None:
    api = Api(shop, role)

    response = api.call(
        "POST",
        "users/search",
        {"filter": cond("profile.mobileNumber", "in", "010-5551-2345", "leak-marker-7f3a")},
    )

    assert response.status_code == 400
    assert leaks(response) == []
    assert response.json()["errors"][0]["code"] == "invalid_phone_number"
