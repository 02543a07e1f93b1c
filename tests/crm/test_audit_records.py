"""Every way to change settings leaves its audit record: the REST API and the Django admin, for
profile fields and their masking, roles, managers, credentials and the channel's settings. A
record names who acted, from where, and what changed, never a value; a refused change leaves
none."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from crm import services
from crm.models import ActorType, ApiCredential, AuditAction, AuditEvent, Channel, Membership, Role
from profile_schema.models import ProfileField
from tests.contacts.factories import ContactFactory
from tests.crm.factories import ChannelFactory, UserFactory, manager_in
from tests.profile_schema.factories import field_in

pytestmark = pytest.mark.django_db
FIELDS = "/open/v5/profile-fields"
AGENT = "AuditTest/1.0"


def records_after(mark: int, channel: Channel) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(action, keys, detail) of CHANNEL's records written after record id MARK, in order."""
    rows = AuditEvent.objects.filter(channel_id=channel.pk, pk__gt=mark).order_by("id")
    return [(row.action, row.keys, row.detail) for row in rows]


def mark() -> int:
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def last_record() -> AuditEvent:
    return AuditEvent.objects.order_by("-id").first()  # type: ignore[return-value]


def api_client(channel: Channel) -> tuple[Client, ApiCredential]:
    owner = services.role_get(channel=channel, name="owner")
    issued = services.credential_create(channel=channel, role=owner, name="sync")
    headers = {"x-access-key": issued.credential.access_key, "x-access-secret": issued.secret}
    return Client(headers={**headers, "user-agent": AGENT}), issued.credential


def manager(channel: Channel, role: str = "owner") -> tuple[Client, Any]:
    user = manager_in(channel, role).user
    client = Client(headers={"user-agent": AGENT})
    client.force_login(user)
    return client, user


def send(client: Client, method: str, url: str, body: Any) -> Any:
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


# -- profile fields through the REST API ---------------------------------------------------------


def test_creating_a_field_through_the_api_records_its_key_type_and_flags(channel: Channel) -> None:
    client, credential = api_client(channel)
    before = mark()

    response = send(
        client,
        "post",
        FIELDS,
        {"key": "profile.income", "name": "Income", "type": "number", "sensitive": True},
    )

    assert response.status_code == 201
    assert records_after(before, channel) == [
        (
            AuditAction.FIELD_CREATE,
            ["profile.income"],
            {
                "type": "number",
                "sensitive": True,
                "masking": "full",
                "shownInProfile": True,
                "indexed": False,
            },
        )
    ]
    record = last_record()
    assert (record.actor_type, record.actor_id, record.actor_name) == (
        ActorType.CREDENTIAL,
        credential.pk,
        "sync",
    )
    assert (record.address, record.user_agent) == ("127.0.0.1", AGENT)


def test_a_patch_records_the_attributes_that_changed_and_masking_apart(channel: Channel) -> None:
    field_in(channel, "grade")
    client, _ = api_client(channel)
    before = mark()

    response = send(
        client,
        "patch",
        f"{FIELDS}/profile.grade",
        {"name": "Grade", "order": 40, "sensitive": True, "masking": "partial"},
    )

    assert response.status_code == 200
    assert records_after(before, channel) == [
        (AuditAction.FIELD_CHANGE, ["profile.grade"], {"changed": ["name", "order"]}),
        (
            AuditAction.MASKING_CHANGE,
            ["profile.grade"],
            {
                "before": {"sensitive": False, "masking": "full"},
                "after": {"sensitive": True, "masking": "partial"},
            },
        ),
    ]


def test_a_patch_that_changes_nothing_or_is_refused_records_nothing(channel: Channel) -> None:
    field_in(channel, "grade", name="Grade")
    field_in(channel, "visits", "number")
    client, _ = api_client(channel)
    before = mark()

    same = send(client, "patch", f"{FIELDS}/profile.grade", {"name": "Grade", "sensitive": False})
    refused = send(client, "patch", f"{FIELDS}/profile.visits", {"masking": "partial"})

    assert (same.status_code, refused.status_code) == (200, 400)
    assert records_after(before, channel) == []


def test_a_type_change_records_the_old_and_the_new_type(channel: Channel) -> None:
    field_in(channel, "code", masking="partial", sensitive=True)
    ContactFactory(channel=channel, profile={"code": "12"})
    client, _ = api_client(channel)
    before = mark()

    response = send(client, "patch", f"{FIELDS}/profile.code", {"type": "number"})

    assert response.status_code == 202
    assert records_after(before, channel) == [
        (
            AuditAction.FIELD_CHANGE,
            ["profile.code"],
            {"changed": ["type"], "type": {"before": "string", "after": "number"}},
        ),
        # a number masks in full only: the type change changed the masking too
        (
            AuditAction.MASKING_CHANGE,
            ["profile.code"],
            {
                "before": {"sensitive": True, "masking": "partial"},
                "after": {"sensitive": True, "masking": "full"},
            },
        ),
    ]


def test_a_delete_records_the_confirmed_count_of_holders_and_its_job(channel: Channel) -> None:
    field_in(channel, "grade")
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "marker-gold-7731"})
    client, _ = api_client(channel)
    before = mark()

    unconfirmed = client.delete(f"{FIELDS}/profile.grade")
    response = client.delete(f"{FIELDS}/profile.grade?confirmCount=2")

    assert (unconfirmed.status_code, response.status_code) == (409, 202)
    job = response.json()["job"]["id"]
    assert records_after(before, channel) == [
        (
            AuditAction.FIELD_DELETE,
            ["profile.grade"],
            {"type": "string", "count": 2, "job": int(job)},
        )
    ]
    assert "marker-gold-7731" not in json.dumps(records_after(0, channel))


# -- profile fields in the admin -----------------------------------------------------------------


def _field_url(name: str, *args: Any) -> str:
    return reverse(f"admin:profile_schema_profilefield_{name}", args=args)


def test_the_field_admin_records_create_masking_type_and_delete_as_the_manager(
    channel: Channel,
) -> None:
    client, user = manager(channel)
    before = mark()

    added = client.post(
        _field_url("add"),
        {
            "channel": channel.pk,
            "key": "grade",
            "name": "Grade",
            "type": "string",
            "masking": "full",
            "shown_in_profile": "on",
        },
    )
    field = ProfileField.objects.get(channel=channel, key="profile.grade")
    changed = client.post(
        _field_url("change", field.pk),
        {
            "name": "Grade",
            "sensitive": "on",
            "masking": "partial",
            "order": field.order,
            "shown_in_profile": "on",
        },
    )
    retyped = client.post(_field_url("change_type", field.pk), {"type": "number"})
    # (a field whose type change job still runs cannot be deleted: another one is)
    other = field_in(channel, "code")
    deleted = client.post(_field_url("delete", other.pk), {"post": "yes", "confirm_count": "0"})

    assert [r.status_code for r in (added, changed, retyped, deleted)] == [302] * 4
    found = records_after(before, channel)
    assert [(action, keys) for action, keys, _ in found] == [
        (AuditAction.FIELD_CREATE, ["profile.grade"]),
        (AuditAction.MASKING_CHANGE, ["profile.grade"]),  # the form sends every field
        (AuditAction.FIELD_CHANGE, ["profile.grade"]),
        (AuditAction.MASKING_CHANGE, ["profile.grade"]),  # a number masks in full
        (AuditAction.FIELD_CREATE, ["profile.code"]),  # by the system: no viewer given
        (AuditAction.FIELD_DELETE, ["profile.code"]),
    ]
    assert found[1][2]["after"] == {"sensitive": True, "masking": "partial"}
    assert found[-1][2]["count"] == 0
    actors = AuditEvent.objects.filter(channel_id=channel.pk, pk__gt=before).exclude(
        actor_type=ActorType.SYSTEM
    )
    assert actors.count() == 5
    assert set(actors.values_list("actor_type", "actor_id", "actor_name", "user_agent")) == {
        (ActorType.MANAGER, user.pk, user.username, AGENT)
    }


# -- roles, managers and credentials in the admin --------------------------------------------------


def test_the_role_admin_records_creation_permission_changes_and_deletion(
    channel: Channel,
) -> None:
    client, user = manager(channel)
    before = mark()

    client.post(
        reverse("admin:crm_role_add"),
        {"channel": channel.pk, "name": "support", "permissions": ["contacts_view"]},
    )
    role = Role.objects.get(channel=channel, name="support")
    client.post(
        reverse("admin:crm_role_change", args=[role.pk]),
        {"name": "care", "permissions": ["contacts_edit", "sensitive_view"]},
    )
    client.post(reverse("admin:crm_role_delete", args=[role.pk]), {"post": "yes"})

    assert not Role.objects.filter(pk=role.pk).exists()
    assert records_after(before, channel) == [
        (
            AuditAction.ROLE_CHANGE,
            [],
            {
                "roleId": role.pk,
                "role": "support",
                "created": True,
                "added": ["contacts_view"],
                "removed": [],
            },
        ),
        (
            AuditAction.ROLE_CHANGE,
            [],
            {
                "roleId": role.pk,
                "role": "care",
                "renamedFrom": "support",
                "added": ["contacts_edit", "sensitive_view"],
                "removed": ["contacts_view"],
            },
        ),
        (
            AuditAction.ROLE_CHANGE,
            [],
            {
                "roleId": role.pk,
                "role": "care",
                "deleted": True,
                "added": [],
                "removed": ["contacts_edit", "sensitive_view"],
            },
        ),
    ]
    assert last_record().actor_id == user.pk


def test_the_membership_admin_records_grants_and_the_revocation(channel: Channel) -> None:
    client, _ = manager(channel)
    basic = services.role_get(channel=channel, name="basic")
    owner = services.role_get(channel=channel, name="owner")
    before = mark()

    client.post(
        reverse("admin:crm_membership_add"),
        {
            "channel": channel.pk,
            "email": "kim@shop.example",
            "password": "a-good-password-1",
            "role": basic.pk,
        },
    )
    membership = Membership.objects.get(channel=channel, user__username="kim@shop.example")
    url = reverse("admin:crm_membership_change", args=[membership.pk])
    client.post(url, {"role": owner.pk})
    client.post(url, {"role": owner.pk})  # the same role again: no change
    client.post(reverse("admin:crm_membership_delete", args=[membership.pk]), {"post": "yes"})

    kim = {"userId": membership.user_id, "manager": "kim@shop.example"}
    assert records_after(before, channel) == [
        (AuditAction.MANAGER_GRANT, [], {**kim, "role": "basic"}),
        (AuditAction.MANAGER_GRANT, [], {**kim, "role": "owner", "previousRole": "basic"}),
        (AuditAction.MANAGER_REVOKE, [], {**kim, "role": "owner"}),
    ]
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_credential_admin_records_issue_role_change_revocation_and_deletion(
    channel: Channel,
) -> None:
    client, _ = manager(channel)
    basic = services.role_get(channel=channel, name="basic")
    owner = services.role_get(channel=channel, name="owner")
    before = mark()

    client.post(
        reverse("admin:crm_apicredential_add"),
        {"channel": channel.pk, "name": "sync", "role": basic.pk},
    )
    credential = ApiCredential.objects.get(channel=channel, name="sync")
    url = reverse("admin:crm_apicredential_change", args=[credential.pk])
    client.post(url, {"name": "sync", "role": owner.pk})
    client.post(
        url,
        {
            "name": "sync",
            "role": owner.pk,
            "revoked_at_0": "2025-01-02",
            "revoked_at_1": "03:04:05",
        },
    )
    client.post(reverse("admin:crm_apicredential_delete", args=[credential.pk]), {"post": "yes"})

    same = {"credentialId": credential.pk, "accessKey": credential.access_key, "name": "sync"}
    assert records_after(before, channel) == [
        (AuditAction.CREDENTIAL_GRANT, [], {**same, "role": "basic", "created": True}),
        (AuditAction.CREDENTIAL_GRANT, [], {**same, "role": "owner", "previousRole": "basic"}),
        (AuditAction.CREDENTIAL_REVOKE, [], {**same, "role": "owner"}),
        (AuditAction.CREDENTIAL_REVOKE, [], {**same, "role": "owner", "deleted": True}),
    ]
    # the secret, shown once at creation, is in no record
    assert not ApiCredential.objects.filter(pk=credential.pk).exists()


def test_deleting_a_login_revokes_each_of_its_memberships_on_the_record(
    channel: Channel, other_channel: Channel
) -> None:
    admin_user = UserFactory(username="root@ops.example", is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    kim = UserFactory(username="kim@shop.example")
    for shop, role in ((channel, "basic"), (other_channel, "owner")):
        Membership.objects.create(
            channel=shop, user=kim, role=services.role_get(channel=shop, name=role)
        )
    before = mark()

    response = client.post(reverse("admin:auth_user_delete", args=[kim.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=kim.pk).exists()
    expected = {"userId": kim.pk, "manager": "kim@shop.example"}
    assert records_after(before, channel) == [
        (AuditAction.MANAGER_REVOKE, [], {**expected, "role": "basic"})
    ]
    assert records_after(before, other_channel) == [
        (AuditAction.MANAGER_REVOKE, [], {**expected, "role": "owner"})
    ]
    assert last_record().actor_name == "root@ops.example"


# -- the channel's settings ---------------------------------------------------------------------


def channel_form(channel: Channel, **changes: Any) -> dict[str, Any]:
    data = {
        "name": channel.name,
        "plan": channel.plan,
        "timezone": channel.timezone,
        "require_member_hash": "on" if channel.require_member_hash else "",
        "audit_retention_days": channel.audit_retention_days,
        "phone_number": channel.phone_number,
        "kakao_channel_id": channel.kakao_channel_id,
    }
    return {**data, **changes}


def test_an_owner_changes_the_retention_and_the_plan_on_the_record() -> None:
    channel = ChannelFactory(name="Shop", plan="free", require_member_hash=True)
    client, _ = manager(channel)
    before = mark()

    response = client.post(
        reverse("admin:crm_channel_change", args=[channel.pk]),
        channel_form(channel, audit_retention_days=730, plan="paid", kakao_channel_id="@shop"),
    )

    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.audit_retention_days, channel.plan) == (730, "paid")
    assert records_after(before, channel) == [
        (
            AuditAction.CHANNEL_CHANGE,
            [],
            {
                "changed": ["plan", "auditRetentionDays", "kakaoChannelId"],
                "before": {"plan": "free", "auditRetentionDays": 365},
                "after": {"plan": "paid", "auditRetentionDays": 730},
            },
        )
    ]


def test_only_an_owner_may_change_the_retention() -> None:
    channel = ChannelFactory(name="Shop", require_member_hash=True)
    services.role_create(channel=channel, name="settings", permissions=["general_settings"])
    client, _ = manager(channel, "settings")
    url = reverse("admin:crm_channel_change", args=[channel.pk])

    page = client.get(url)
    response = client.post(url, channel_form(channel, audit_retention_days=30, name="Shop 2"))

    assert "audit_retention_days" not in page.context["adminform"].form.fields
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.audit_retention_days) == ("Shop 2", 365)


def test_a_retention_out_of_range_is_refused_and_nothing_is_recorded() -> None:
    channel = ChannelFactory(name="Shop", require_member_hash=True)
    client, _ = manager(channel)
    before = mark()

    response = client.post(
        reverse("admin:crm_channel_change", args=[channel.pk]),
        channel_form(channel, audit_retention_days=10),
    )

    assert response.status_code == 200
    assert "audit_retention_days" in response.context["adminform"].form.errors
    channel.refresh_from_db()
    assert channel.audit_retention_days == 365
    assert records_after(before, channel) == []


def test_turning_the_member_hash_off_warns_and_needs_a_confirmation() -> None:
    channel = ChannelFactory(name="Shop", require_member_hash=True)
    client, _ = manager(channel)
    url = reverse("admin:crm_channel_change", args=[channel.pk])
    before = mark()

    refused = client.post(url, channel_form(channel, require_member_hash=""))
    channel.refresh_from_db()
    assert refused.status_code == 200 and channel.require_member_hash
    assert "anyone holding the public plugin key" in refused.content.decode()
    assert records_after(before, channel) == []

    confirmed = client.post(
        url, channel_form(channel, require_member_hash="", confirm_unverified_boots="on")
    )
    channel.refresh_from_db()
    assert confirmed.status_code == 302 and not channel.require_member_hash
    assert records_after(before, channel) == [
        (
            AuditAction.CHANNEL_CHANGE,
            [],
            {
                "changed": ["requireMemberHash"],
                "before": {"requireMemberHash": True},
                "after": {"requireMemberHash": False},
            },
        )
    ]
    page = client.get(url).content.decode()
    assert "This channel accepts unverified boots." in page
