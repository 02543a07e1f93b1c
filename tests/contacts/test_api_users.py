"""/open/v5/users…: create, read, update, upsert, delete; auth, permissions, channel isolation."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, ContactActivity, Event, Tag
from contacts.services.tags import tag_catalogue_ensure
from crm import services
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS
from profile_schema.cache import channel_fields, channel_version
from tests.contacts.factories import ContactFactory, EventFactory, MemberFactory
from tests.crm.factories import manager_in


class Api:
    """An API credential's client for /open/v5 (Django's real request handling and database)."""

    def __init__(
        self, channel: Channel, permissions: Iterable[str] | None = None, name: str = "Zapier"
    ) -> None:
        if permissions is None:
            role = services.role_get(channel=channel, name="owner")
        else:
            role = services.role_create(
                channel=channel, name=f"role {name}", permissions=permissions
            )
        issued = services.credential_create(channel=channel, role=role, name=name)
        self.credential = issued.credential
        self.headers = {
            "x-access-key": issued.credential.access_key,
            "x-access-secret": issued.secret,
        }
        self.client = Client()

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        data = "" if body is None else json.dumps(body)
        return self.client.generic(
            method,
            f"/open/v5/{path}",
            data,
            content_type="application/json",
            headers=self.headers if headers is None else headers,
        )

    def get(self, path: str, **params: Any) -> HttpResponse:
        return self.client.get(f"/open/v5/{path}", params, headers=self.headers)


def without(*permissions: str) -> set[str]:
    return set(ALL_PERMISSIONS) - set(permissions)


def row(contact: Contact) -> dict[str, Any]:
    """Everything stored about CONTACT: its row, events, activity months, the tag catalogue."""
    return {
        "row": Contact.objects.filter(pk=contact.pk).values().first(),
        "events": list(Event.objects.filter(contact_id=contact.pk).values_list("id", flat=True)),
        "activity": ContactActivity.objects.filter(contact_id=contact.pk).count(),
        "tags": sorted(Tag.objects.filter(channel_id=contact.channel_id).values_list("name")),
    }


@pytest.fixture
def api(channel: Channel) -> Api:
    return Api(channel)


@pytest.fixture
def member(channel: Channel) -> Contact:
    contact = MemberFactory(
        channel=channel,
        member_id="m-42",
        profile={"name": "Kim", "email": "kim@shop.example"},
        tags=["vip"],
    )
    tag_catalogue_ensure(channel=channel, tags=["vip"])
    EventFactory(contact=contact, name="PageView")
    return contact


# --- POST users ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_post_creates_a_lead(api: Api, channel: Channel) -> None:
    response = api.call(
        "POST",
        "users",
        {
            "profile": {"name": "Lee", "mobileNumber": "010-1234-5678"},
            "profileOnce": {"email": "lee@shop.example"},
            "tags": ["VIP", "gold"],
            "unsubscribeTexting": True,
        },
    )

    assert response.status_code == 201
    user = response.json()["user"]
    contact = Contact.objects.get()
    assert user["id"] == str(contact.pk)
    assert {k: user[k] for k in ("type", "memberId", "member", "name", "profile", "tags")} == {
        "type": "lead",
        "memberId": None,
        "member": False,
        "name": "Lee",
        # Email and mobile number are sensitive by default: masked, even for an owner.
        "profile": {"name": "Lee", "mobileNumber": "010-****-5678", "email": "l**@shop.example"},
        "tags": ["vip", "gold"],
    }
    assert user["masked"] == ["profile.email", "profile.mobileNumber"]
    assert contact.profile == {
        "name": "Lee",
        "mobileNumber": "+821012345678",
        "email": "lee@shop.example",
    }
    assert (user["unsubscribeEmail"], user["unsubscribeTexting"]) == (False, True)
    assert (user["sessionsCount"], user["lastSeenAt"], user["blocked"]) == (0, None, False)
    assert (contact.channel_id, contact.tags) == (channel.pk, ["vip", "gold"])
    assert sorted(Tag.objects.filter(channel=channel).values_list("name", flat=True)) == [
        "gold",
        "vip",
    ]
    assert ContactActivity.objects.filter(contact=contact).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"profile": {"name": "Lee"}},
        {"profile": {"email": None}},
        {"tags": ["vip"]},
        {},
    ],
)
def test_post_without_an_email_or_mobile_number_is_refused(api: Api, body: Any) -> None:
    response = api.call("POST", "users", body)

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [("profile", "required")]
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_post_lists_every_problem_and_creates_nothing(api: Api) -> None:
    response = api.call(
        "POST",
        "users",
        {
            "profile": {"email": "not-an-email", "age": 30, "mobileNumber": "02-555-1234"},
            "profileOnce": {"name": 5},
            "tags": ["new tag", "fine"],
            "unsubscribeEmail": "yes",
            "memberId": "m-1",
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert sorted((e["key"], e["code"]) for e in body["errors"]) == [
        ("memberId", "unknown_field"),
        ("profile.age", "unknown_key"),
        ("profile.email", "invalid_email"),
        ("profile.mobileNumber", "not_mobile_number"),
        ("profileOnce.name", "invalid_type"),
        ("tags", "invalid_tag"),
        ("unsubscribeEmail", "invalid_type"),
    ]
    assert not Contact.objects.exists()
    assert not Tag.objects.exists()


@pytest.mark.django_db
def test_one_refusal_lists_the_problems_in_the_order_of_the_keys(api: Api) -> None:
    response = api.call(
        "POST",
        "users",
        {
            "zzz": 1,
            "profile": "x",
            "profileOnce": {"age": 1},
            "tags": ["a b"],
            "unsubscribeTexting": 0,
        },
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "6 problems (zzz, profile, profileOnce.age, tags, unsubscribeTexting); "
        "each is listed under errors."
    )
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [
        ("zzz", "unknown_field"),
        ("profile", "invalid_type"),
        ("profileOnce.age", "unknown_key"),
        ("tags", "invalid_tag"),
        ("unsubscribeTexting", "invalid_type"),
        ("profile", "required"),
    ]
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_refused(api: Api) -> None:
    response = api.call("POST", "users", ["profile"])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "body",
            "code": "invalid_body",
            "message": "The body is a JSON object ({...}); got a list.",
        }
    ]


# --- GET users/{id}, users/@{memberId} -----------------------------------------------------


@pytest.mark.django_db
def test_get_returns_the_user_object(api: Api, member: Contact, channel: Channel) -> None:
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    Contact.objects.filter(pk=member.pk).update(
        created_at=moment, updated_at=moment, last_seen_at=moment, sessions_count=3, city="Seoul"
    )
    ms = int(moment.timestamp() * 1000)

    response = api.get(f"users/{member.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "user": {
            "id": str(member.pk),
            "channelId": str(channel.pk),
            "memberId": "m-42",
            "type": "member",
            "name": "Kim",
            "member": True,
            "profile": {"name": "Kim", "email": "k**@shop.example"},
            "tags": ["vip"],
            "city": "Seoul",
            "country": "",
            "language": "",
            "sessionsCount": 3,
            "lastSeenAt": ms,
            "createdAt": ms,
            "updatedAt": ms,
            "web": {
                "browser": "",
                "browserName": "",
                "os": "",
                "osName": "",
                "device": "",
                "lastSeenAt": None,
                "sessionsCount": 0,
            },
            "mobile": {
                "appName": "",
                "appVersion": "",
                "os": "",
                "osName": "",
                "device": "",
                "lastSeenAt": None,
                "sessionsCount": 0,
            },
            "hasPushToken": False,
            "unsubscribeEmail": False,
            "unsubscribeTexting": False,
            "hasChat": False,
            "blocked": False,
            "masked": ["profile.email"],
        }
    }
    assert (response["x-ratelimit-limit"], response["x-ratelimit-remaining"]) == ("1200", "1199")


@pytest.mark.django_db
@pytest.mark.parametrize("member_id", ["m-42", "kim.lee+shop@example.com", "회원_7"])
def test_get_by_member_id(api: Api, channel: Channel, member_id: str) -> None:
    contact = MemberFactory(channel=channel, member_id=member_id)

    response = api.get(f"users/@{member_id}")

    assert response.status_code == 200
    assert (response.json()["user"]["id"], response.json()["user"]["memberId"]) == (
        str(contact.pk),
        member_id,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "user_id", ["abc", "0", "007", "-1", "1.0", "99999999999999999999", "\u0661"]
)
def test_an_id_that_is_not_a_contact_id_is_404(api: Api, member: Contact, user_id: str) -> None:
    response = api.get(f"users/{id}")

    assert response.status_code == 404
    assert response.json() == {"type": "not_found", "message": "Not found.", "errors": []}


# --- auth ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-access-key": "nope", "x-access-secret": "nope"},
        {"x-access-secret": "nope"},
        "wrong secret",
    ],
)
def test_missing_or_wrong_credentials_are_401(api: Api, member: Contact, headers: Any) -> None:
    if headers == "wrong secret":
        headers = {**api.headers, "x-access-secret": api.headers["x-access-secret"] + "x"}
    before = row(member)

    read = api.call("GET", f"users/{member.pk}", headers=headers)
    write = api.call("PATCH", f"users/{member.pk}", {"tags": []}, headers=headers)

    assert (read.status_code, write.status_code) == (401, 401)
    assert read.json()["type"] == "authentication_failed"
    assert row(member) == before


@pytest.mark.django_db
def test_a_revoked_credential_is_401(api: Api, member: Contact) -> None:
    api.credential.revoked_at = datetime.now(UTC)
    api.credential.save()

    assert api.get(f"users/{member.pk}").status_code == 401


@pytest.mark.django_db
def test_a_managers_session_works_with_the_managers_role(channel: Channel, member: Contact) -> None:
    membership = manager_in(channel, "basic")
    client = Client()
    client.force_login(membership.user)

    read = client.get(f"/open/v5/users/{member.pk}")
    patched = client.patch(
        f"/open/v5/users/{member.pk}",
        json.dumps({"profile": {"description": "Called on Monday"}}),
        content_type="application/json",
    )
    deleted = client.delete(f"/open/v5/users/{member.pk}")

    assert (read.status_code, read.json()["user"]["memberId"]) == (200, "m-42")
    assert patched.json()["user"]["profile"]["description"] == "Called on Monday"
    assert (deleted.status_code, deleted.json()["type"]) == (403, "permission_denied")
    assert Contact.objects.filter(pk=member.pk).exists()


# --- permissions ---------------------------------------------------------------------------

DENIED = [
    ("GET", "users/{id}", None, "contacts_view"),
    ("PATCH", "users/{id}", {"profile": {"name": "Lee"}, "tags": []}, "contacts_edit"),
    ("DELETE", "users/{id}", None, "contacts_delete"),
    ("GET", "users/@m-42", None, "contacts_view"),
    ("PUT", "users/@m-42", {"tags": ["gold"], "unsubscribeEmail": True}, "contacts_edit"),
    ("PUT", "users/@m-new", {"profile": {"name": "New"}}, "contacts_edit"),
    ("DELETE", "users/@m-42", None, "contacts_delete"),
    ("POST", "users", {"profile": {"email": "new@shop.example"}, "tags": ["t"]}, "contacts_edit"),
    ("POST", "users/{id}/block", {"reason": "spam"}, "block"),
    ("DELETE", "users/{id}/block", None, "block"),
    ("POST", "users/{id}/touch", None, "contacts_edit"),
    ("GET", "users/{id}/events", None, "contacts_view"),
    ("POST", "users/{id}/events", {"name": "Signup"}, "contacts_edit"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body", "permission"), DENIED)
def test_without_the_permission_it_is_403_and_nothing_changes(
    channel: Channel, member: Contact, method: str, path: str, body: Any, permission: str
) -> None:
    if path.endswith("block") and method == "DELETE":
        Contact.objects.filter(pk=member.pk).update(
            blocked=True, blocked_at=datetime.now(UTC), blocked_reason="spam"
        )
    api = Api(channel, permissions=without(permission))
    before = row(member)

    response = api.call(method, path.format(id=member.pk), body)

    assert response.status_code == 403
    assert response.json() == {
        "type": "permission_denied",
        "message": f"Your role lacks the {permission} permission needed for this.",
        "errors": [],
    }
    assert row(member) == before
    assert Contact.objects.count() == 1


# --- channel isolation ---------------------------------------------------------------------

ELSEWHERE = [
    ("GET", "users/{id}", None),
    ("PATCH", "users/{id}", {"profile": {"name": "Lee"}}),
    ("DELETE", "users/{id}", None),
    ("GET", "users/@{member_id}", None),
    ("DELETE", "users/@{member_id}", None),
    ("POST", "users/{id}/block", {"reason": "spam"}),
    ("DELETE", "users/{id}/block", None),
    ("POST", "users/{id}/touch", None),
    ("GET", "users/{id}/events", None),
    ("POST", "users/{id}/events", {"name": "Signup"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body"), ELSEWHERE)
def test_another_channels_user_is_404_like_a_missing_one(
    api: Api, other_channel: Channel, method: str, path: str, body: Any
) -> None:
    theirs = MemberFactory(channel=other_channel, member_id="m-theirs", tags=["x"])
    EventFactory(contact=theirs)
    before = row(theirs)

    response = api.call(method, path.format(id=theirs.pk, member_id="m-theirs"), body)
    missing = api.call(method, path.format(id=theirs.pk + 1000, member_id="m-nobody"), body)

    assert response.status_code == 404
    assert (
        response.json()
        == missing.json()
        == {
            "type": "not_found",
            "message": "Not found.",
            "errors": [],
        }
    )
    assert row(theirs) == before


@pytest.mark.django_db
def test_put_with_another_channels_member_id_creates_one_in_this_channel(
    api: Api, channel: Channel, other_channel: Channel
) -> None:
    theirs = MemberFactory(channel=other_channel, member_id="m-7", profile={"name": "Theirs"})
    before = row(theirs)

    response = api.call("PUT", "users/@m-7", {"profile": {"name": "Ours"}})

    assert response.status_code == 201
    ours = Contact.objects.get(channel=channel, member_id="m-7")
    assert response.json()["user"]["id"] == str(ours.pk) != str(theirs.pk)
    assert ours.profile == {"name": "Ours"}
    assert row(theirs) == before


# --- PATCH users/{id} ----------------------------------------------------------------------


@pytest.mark.django_db
def test_patch_sets_removes_fills_once_and_replaces_tags(api: Api, member: Contact) -> None:
    response = api.call(
        "PATCH",
        f"users/{member.pk}",
        {
            "profile": {"name": None, "mobileNumber": "01098765432"},
            "profileOnce": {"email": "other@shop.example", "description": "VIP since 2020"},
            "tags": ["gold", "NEW"],
        },
    )

    assert response.status_code == 200
    user = response.json()["user"]
    assert user["profile"] == {
        "email": "k**@shop.example",
        "mobileNumber": "010-****-5432",
        "description": "VIP since 2020",
    }
    assert (user["name"], user["tags"]) == ("", ["gold", "new"])
    member.refresh_from_db()
    assert member.profile == {
        "email": "kim@shop.example",
        "mobileNumber": "+821098765432",
        "description": "VIP since 2020",
    }
    assert (member.name, member.tags) == ("", ["gold", "new"])
    assert set(Tag.objects.values_list("name", flat=True)) == {"vip", "gold", "new"}
    assert ContactActivity.objects.filter(contact=member).count() == 1


@pytest.mark.django_db
def test_patch_with_an_empty_tag_list_removes_every_tag(api: Api, member: Contact) -> None:
    response = api.call("PATCH", f"users/{member.pk}", {"tags": []})

    assert response.json()["user"]["tags"] == []
    member.refresh_from_db()
    assert member.tags == []


@pytest.mark.django_db
def test_patch_turns_opt_outs_on_and_off(api: Api, member: Contact) -> None:
    on = api.call(
        "PATCH", f"users/{member.pk}", {"unsubscribeEmail": True, "unsubscribeTexting": True}
    )
    off = api.call("PATCH", f"users/{member.pk}", {"unsubscribeEmail": False})

    assert (on.json()["user"]["unsubscribeEmail"], on.json()["user"]["unsubscribeTexting"]) == (
        True,
        True,
    )
    assert (off.json()["user"]["unsubscribeEmail"], off.json()["user"]["unsubscribeTexting"]) == (
        False,
        True,
    )
    member.refresh_from_db()
    assert (member.unsubscribe_email, member.unsubscribe_texting) == (False, True)


@pytest.mark.django_db
def test_patch_that_changes_nothing_writes_nothing(api: Api, member: Contact) -> None:
    before = row(member)

    response = api.call(
        "PATCH", f"users/{member.pk}", {"profile": {"name": "Kim"}, "tags": ["VIP"]}
    )

    assert response.status_code == 200
    assert row(member) == before


@pytest.mark.django_db
def test_patch_lists_every_problem_and_changes_nothing(api: Api, member: Contact) -> None:
    before = row(member)

    response = api.call(
        "PATCH",
        f"users/{member.pk}",
        {
            "profile": {"name": "Lee", "email": "x"},
            "profileOnce": "not an object",
            "tags": [f"t{n}" for n in range(21)],
            "unsubscribeTexting": None,
        },
    )

    assert response.status_code == 400
    assert sorted((e["key"], e["code"]) for e in response.json()["errors"]) == [
        ("profile.email", "invalid_email"),
        ("profileOnce", "invalid_type"),
        ("tags", "invalid_tag"),
        ("unsubscribeTexting", "invalid_type"),
    ]
    assert row(member) == before


@pytest.mark.django_db
def test_patch_past_the_profile_size_limit_names_it(api: Api, channel: Channel) -> None:
    from tests.profile_schema.factories import field_in

    for n in range(40):
        field_in(channel, f"note{n}")
    contact = ContactFactory(channel=channel, profile={f"note{n}": "x" * 500 for n in range(20)})
    before = row(contact)

    response = api.call(
        "PATCH", f"users/{contact.pk}", {"profile": {f"note{n}": "y" * 500 for n in range(20, 40)}}
    )

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [("profile", "too_large")]
    assert row(contact) == before


# --- PUT users/@{memberId} -----------------------------------------------------------------


@pytest.mark.django_db
def test_put_creates_then_updates_the_member(api: Api, channel: Channel) -> None:
    created = api.call(
        "PUT",
        "users/@kim.lee+shop@example.com",
        {"profile": {"name": "Kim"}, "profileOnce": {"description": "first"}, "tags": ["vip"]},
    )
    updated = api.call(
        "PUT",
        "users/@kim.lee+shop@example.com",
        {"profile": {"email": "kim@shop.example"}, "profileOnce": {"description": "second"}},
    )

    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["user"]["id"] == updated.json()["user"]["id"]
    user = updated.json()["user"]
    assert (user["memberId"], user["type"], user["member"]) == (
        "kim.lee+shop@example.com",
        "member",
        True,
    )
    assert user["profile"] == {"name": "Kim", "email": "k**@shop.example", "description": "first"}
    assert user["tags"] == ["vip"]
    contact = Contact.objects.get(channel=channel)
    assert contact.profile["email"] == "kim@shop.example"
    assert ContactActivity.objects.filter(contact=contact).count() == 1


@pytest.mark.django_db
def test_put_lists_the_member_id_with_the_bodys_problems(api: Api) -> None:
    response = api.call("PUT", "users/@" + "m" * 256, {"profile": {"age": 3}})

    assert response.status_code == 400
    assert sorted((e["key"], e["code"]) for e in response.json()["errors"]) == [
        ("memberId", "too_long"),
        ("profile.age", "unknown_key"),
    ]
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_put_lists_the_member_id_after_the_bodys_problems(api: Api) -> None:
    response = api.call("PUT", "users/@" + "m" * 256, {"tags": "vip", "profile": {"age": 3}})

    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [
        ("profile.age", "unknown_key"),
        ("tags", "invalid_type"),
        ("memberId", "too_long"),
    ]
    assert not Contact.objects.exists()


# --- DELETE --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_by_id_removes_the_user_and_what_it_holds(api: Api, member: Contact) -> None:
    api.call("PATCH", f"users/{member.pk}", {"profile": {"name": "Lee"}})
    assert ContactActivity.objects.filter(contact_id=member.pk).count() == 1

    response = api.call("DELETE", f"users/{member.pk}")

    assert (response.status_code, response.content) == (204, b"")
    assert not Contact.objects.filter(pk=member.pk).exists()
    assert not Event.objects.filter(contact_id=member.pk).exists()
    assert not ContactActivity.objects.filter(contact_id=member.pk).exists()
    assert api.get(f"users/{member.pk}").status_code == 404


@pytest.mark.django_db
def test_delete_by_member_id(api: Api, member: Contact, channel: Channel) -> None:
    kept = ContactFactory(channel=channel)

    response = api.call("DELETE", "users/@m-42")

    assert response.status_code == 204
    assert list(Contact.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Event.objects.exists()
    assert api.call("DELETE", "users/@m-42").status_code == 404


@pytest.mark.django_db
def test_a_tag_past_the_channels_catalogue_limit_is_refused(
    api: Api, member: Contact, channel: Channel
) -> None:
    Tag.objects.bulk_create(Tag(channel=channel, name=f"t{n}") for n in range(999))
    before = row(member)

    response = api.call("PATCH", f"users/{member.pk}", {"tags": ["vip", "brand-new"]})

    assert response.status_code == 400
    assert [(e["key"], e["code"]) for e in response.json()["errors"]] == [
        ("tags", "too_many_tags_in_channel")
    ]
    assert row(member) == before


@pytest.mark.django_db
def test_reading_a_user_costs_a_fixed_number_of_queries(api: Api, member: Contact) -> None:
    # The channel's field definitions (the masking policy reads them) are kept by the process
    # under the channel's schema version, as after the first request of a running server.
    channel = member.channel
    channel_fields(channel_id=channel.pk, version=channel_version(channel))

    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"users/{member.pk}")

    assert response.status_code == 200
    # credential, its last use, the rate-limit window, the contact
    assert len(queries) == 4
