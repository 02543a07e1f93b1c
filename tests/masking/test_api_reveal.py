"""POST /open/v5/users/{id}/reveal: one masked value, to a role with sensitive_view, and exactly
one audit record per reveal, which never holds the value."""

from __future__ import annotations

import json

import pytest
from django.forms.models import model_to_dict

from contacts.models import Contact
from crm.models import ActorType, AuditAction, AuditEvent, Channel
from crm.permissions import BASIC_PERMISSIONS, Permission
from tests.contacts.factories import MemberFactory
from tests.crm.factories import manager_in
from tests.masking.test_api_masking import (
    CODE,
    EMAIL,
    INCOME,
    MARKERS,
    MOBILE,
    NAME,
    Api,
    leaks,
    role_add,
    secretive,
    shop,
)

__all__ = ["secretive", "shop"]  # fixtures


def reveals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.REVEAL).order_by("id"))


def record_holds_no_value(record: AuditEvent) -> None:
    text = json.dumps(model_to_dict(record), default=str)
    assert [marker for marker in MARKERS if marker in text] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("profile.mobileNumber", MOBILE),
        ("profile.email", EMAIL),
        ("profile.secretCode", CODE),
        ("profile.income", INCOME),
        ("name", NAME),
    ],
)
def test_an_owner_reveals_one_value_and_leaves_one_record(
    shop: Channel, secretive: Contact, key: str, value: object
) -> None:
    owner = Api(shop, "owner")
    before = owner.get(f"users/{secretive.pk}")

    response = owner.call("POST", f"users/{secretive.pk}/reveal", {"key": key})

    assert leaks(before) == []
    assert response.status_code == 200
    assert response.json() == {"key": key, "value": value}
    [record] = reveals()
    assert (record.channel_id, record.action, record.target_user_id, record.keys) == (
        shop.pk,
        AuditAction.REVEAL,
        secretive.pk,
        [key],
    )
    assert (record.actor_type, record.actor_id) == (ActorType.CREDENTIAL, owner.credential.pk)
    assert record.user_agent == "" and record.address == "127.0.0.1"
    record_holds_no_value(record)


@pytest.mark.django_db
def test_each_reveal_is_one_record(shop: Channel, secretive: Contact) -> None:
    owner = Api(shop, "owner")

    for key in ("profile.email", "profile.email", "profile.mobileNumber"):
        assert owner.call("POST", f"users/{secretive.pk}/reveal", {"key": key}).status_code == 200

    assert [r.keys for r in reveals()] == [
        ["profile.email"],
        ["profile.email"],
        ["profile.mobileNumber"],
    ]


@pytest.mark.django_db
def test_a_value_the_contact_does_not_have_is_revealed_as_null(shop: Channel) -> None:
    contact = MemberFactory(channel=shop, profile={"email": EMAIL})

    response = Api(shop, "owner").call(
        "POST", f"users/{contact.pk}/reveal", {"key": "profile.mobileNumber"}
    )

    assert response.json() == {"key": "profile.mobileNumber", "value": None}
    assert len(reveals()) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["basic", "all-but-reveal"])
def test_a_role_without_sensitive_view_is_refused_and_nothing_is_recorded(
    shop: Channel, secretive: Contact, role: str
) -> None:
    response = Api(shop, role).call(
        "POST", f"users/{secretive.pk}/reveal", {"key": "profile.email"}
    )

    assert response.status_code == 403
    assert response.json() == {
        "type": "permission_denied",
        "message": "Your role lacks the sensitive_view permission needed for this.",
        "errors": [],
    }
    assert leaks(response) == [] and reveals() == []


@pytest.mark.django_db
def test_sensitive_view_without_contacts_view_is_refused(shop: Channel, secretive: Contact) -> None:
    role_add(shop, "revealer", {Permission.SENSITIVE_VIEW})

    response = Api(shop, "revealer").call(
        "POST", f"users/{secretive.pk}/reveal", {"key": "profile.email"}
    )

    assert response.status_code == 403
    assert "contacts_view" in response.json()["message"]
    assert reveals() == []


@pytest.mark.django_db
def test_a_key_that_is_not_masked_or_unknown_is_refused(shop: Channel, secretive: Contact) -> None:
    owner = Api(shop, "owner")

    answers = {
        body_key: owner.call("POST", f"users/{secretive.pk}/reveal", body)
        for body_key, body in {
            "shown": {"key": "profile.grade"},
            "built-in": {"key": "city"},
            "unknown": {"key": "profile.nope"},
            "missing": {},
            "not a string": {"key": 7},
            "extra": {"key": "profile.email", "why": "curious"},
        }.items()
    }

    codes = {
        name: [(e["key"], e["code"]) for e in response.json()["errors"]]
        for name, response in answers.items()
    }
    assert {response.status_code for response in answers.values()} == {400}
    assert codes == {
        "shown": [("key", "not_masked")],
        "built-in": [("key", "not_masked")],
        "unknown": [("key", "unknown_key")],
        "missing": [("key", "required")],
        "not a string": [("key", "invalid")],
        "extra": [("why", "unknown_field")],
    }
    assert reveals() == []


@pytest.mark.django_db
def test_another_channels_contact_is_not_found(
    shop: Channel, secretive: Contact, other_channel: Channel
) -> None:
    theirs = Api(other_channel, "owner")

    response = theirs.call("POST", f"users/{secretive.pk}/reveal", {"key": "profile.email"})

    assert response.status_code == 404
    assert leaks(response) == [] and reveals() == []


@pytest.mark.django_db
def test_a_manager_reveals_through_a_session_and_is_recorded_as_themself(
    shop: Channel, secretive: Contact
) -> None:
    role_add(shop, "agent-revealer", {*BASIC_PERMISSIONS, Permission.SENSITIVE_VIEW})
    manager = manager_in(shop, "agent-revealer", username="agent@shop.example")
    client = Api(shop, "owner").client
    client.force_login(manager.user)

    response = client.post(
        f"/open/v5/users/{secretive.pk}/reveal",
        {"key": "profile.mobileNumber"},
        content_type="application/json",
        headers={"user-agent": "Desk/1.0"},
    )

    assert response.json() == {"key": "profile.mobileNumber", "value": MOBILE}
    [record] = reveals()
    assert (record.actor_type, record.actor_id, record.actor_name, record.user_agent) == (
        ActorType.MANAGER,
        manager.user.pk,
        "agent@shop.example",
        "Desk/1.0",
    )
