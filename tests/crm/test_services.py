"""Channels, roles, managers and credentials: the writes and their limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from crm import services
from crm.models import (
    MAX_ROLES_PER_CHANNEL,
    ApiCredential,
    AuditAction,
    AuditEvent,
    Channel,
    Membership,
    Role,
)
from crm.permissions import ALL_PERMISSIONS, BASIC_PERMISSIONS
from profile_schema.models import ProfileField
from tests.concurrency import run_together


@pytest.mark.django_db
def test_channel_create_gives_default_roles_and_keys_but_no_profile_fields() -> None:
    channel = services.channel_create(name="Shop", plan="paid")

    roles = {role.name: set(role.permissions) for role in channel.roles.all()}
    assert roles == {"owner": set(ALL_PERMISSIONS), "basic": set(BASIC_PERMISSIONS)}
    assert not ProfileField.objects.filter(channel=channel).exists()
    assert len(channel.plugin_key) == 24
    assert len(bytes.fromhex(channel.member_hash_secret)) == 32


@pytest.mark.django_db
def test_channel_create_refuses_an_unknown_timezone_and_writes_nothing() -> None:
    with pytest.raises(ValidationError) as error:
        services.channel_create(name="Shop", timezone="Mars/Olympus")

    assert "timezone" in error.value.message_dict
    assert Channel.objects.count() == 0


@pytest.mark.django_db
def test_role_create_refuses_the_21st_role(channel: Channel) -> None:
    for n in range(MAX_ROLES_PER_CHANNEL - 2):
        services.role_create(channel=channel, name=f"role {n}", permissions=["contacts_view"])
    assert channel.roles.count() == MAX_ROLES_PER_CHANNEL

    with pytest.raises(ValidationError, match="at most 20 roles"):
        services.role_create(channel=channel, name="one too many", permissions=[])
    assert channel.roles.count() == MAX_ROLES_PER_CHANNEL


@pytest.mark.django_db(transaction=True)
def test_concurrent_role_creation_never_passes_the_limit() -> None:
    channel = services.channel_create(name="Race")
    for n in range(MAX_ROLES_PER_CHANNEL - 4):
        services.role_create(channel=channel, name=f"r{n}", permissions=[])

    def create(n: int) -> str:
        try:
            services.role_create(channel=channel, name=f"racer {n}", permissions=[])
        except ValidationError:
            return "refused"
        return "created"

    outcomes = run_together(8, create)

    assert sorted(outcomes) == ["created"] * 2 + ["refused"] * 6
    assert Role.objects.filter(channel=channel).count() == MAX_ROLES_PER_CHANNEL


@pytest.mark.django_db
def test_role_create_names_unknown_permissions(channel: Channel) -> None:
    with pytest.raises(ValidationError) as error:
        services.role_create(channel=channel, name="x", permissions=["contacts_view", "fly"])

    assert "Unknown permission(s) fly" in error.value.message_dict["permissions"][0]
    assert not Role.objects.filter(channel=channel, name="x").exists()


@pytest.mark.django_db
def test_the_owner_role_keeps_every_permission(channel: Channel) -> None:
    owner = services.role_get(channel=channel, name="owner")

    with pytest.raises(ValidationError, match="owner role keeps every permission"):
        services.role_update(role=owner, name="owner", permissions=["contacts_view"])
    owner.refresh_from_db()
    assert set(owner.permissions) == set(ALL_PERMISSIONS)


@pytest.mark.django_db
def test_credential_secret_is_stored_hashed_and_checked_in_constant_time(channel: Channel) -> None:
    role = services.role_get(channel=channel, name="basic")
    issued = services.credential_create(channel=channel, role=role, name="crm sync")

    stored = ApiCredential.objects.get(pk=issued.credential.pk)
    assert issued.secret not in stored.secret_hash
    assert services.secret_matches(secret=issued.secret, hashed=stored.secret_hash)
    assert not services.secret_matches(secret=issued.secret + "x", hashed=stored.secret_hash)
    assert stored.role == role


@pytest.mark.django_db
def test_credential_refuses_a_role_of_another_channel(
    channel: Channel, other_channel: Channel
) -> None:
    foreign = services.role_get(channel=other_channel, name="owner")

    with pytest.raises(ValidationError, match="same channel"):
        services.credential_create(channel=channel, role=foreign)
    assert ApiCredential.objects.count() == 0


@pytest.mark.django_db
def test_manager_create_makes_a_staff_login_with_one_role(channel: Channel) -> None:
    role = services.role_get(channel=channel, name="basic")
    membership = services.manager_create(
        channel=channel, email="Kim@Shop.example", password="a-good-password-1", role=role
    )

    user = membership.user
    assert (user.username, user.is_staff) == ("Kim@shop.example", True)
    assert user.check_password("a-good-password-1")
    again = services.manager_create(
        channel=channel, email="kim@shop.example", password="", role=role
    )
    assert again.pk == membership.pk
    assert Membership.objects.filter(channel=channel, user=user).count() == 1


@pytest.mark.django_db
def test_manager_create_refuses_a_weak_password(channel: Channel) -> None:
    role = services.role_get(channel=channel, name="basic")

    with pytest.raises(ValidationError):
        services.manager_create(channel=channel, email="x@shop.example", password="123", role=role)
    assert not Membership.objects.filter(channel=channel).exists()


@pytest.mark.django_db
def test_a_credentials_last_use_is_written_at_most_once_a_minute(channel: Channel) -> None:
    from django.test import Client

    issued = services.credential_create(
        channel=channel, role=services.role_get(channel=channel, name="owner")
    )
    client = Client(
        headers={"x-access-key": issued.credential.access_key, "x-access-secret": issued.secret}
    )

    client.get("/open/v5/segments")
    first = ApiCredential.objects.get(pk=issued.credential.pk).last_used_at
    client.get("/open/v5/segments")
    second = ApiCredential.objects.get(pk=issued.credential.pk).last_used_at

    assert first is not None and second == first


@pytest.mark.django_db
def test_the_owner_role_keeps_its_name(channel: Channel) -> None:
    owner = services.role_get(channel=channel, name="owner")

    with pytest.raises(ValidationError, match="keeps its name"):
        services.role_update(role=owner, name="boss", permissions=owner.permissions)
    owner.refresh_from_db()
    assert owner.name == "owner"


@pytest.mark.django_db
def test_the_stored_owner_role_decides_even_when_the_instance_was_renamed(
    channel: Channel,
) -> None:
    owner = services.role_get(channel=channel, name="owner")
    owner.name = "boss"  # as an admin form leaves its instance before the service runs

    with pytest.raises(ValidationError, match="keeps every permission"):
        services.role_update(role=owner, name="boss", permissions=["contacts_view"])
    owner.refresh_from_db()
    assert (owner.name, sorted(owner.permissions)) == ("owner", sorted(ALL_PERMISSIONS))


@pytest.mark.django_db
def test_a_role_of_another_channel_is_refused_on_change_and_nothing_changes(
    channel: Channel, other_channel: Channel
) -> None:
    basic = services.role_get(channel=channel, name="basic")
    foreign = services.role_get(channel=other_channel, name="owner")
    issued = services.credential_create(channel=channel, role=basic, name="sync")
    membership = services.manager_create(
        channel=channel, email="kim@shop.example", password="a-good-password-1", role=basic
    )

    with pytest.raises(ValidationError, match="The role must belong to the same channel"):
        services.membership_role_set(membership=membership, role=foreign)
    with pytest.raises(ValidationError, match="The role must belong to the same channel"):
        services.credential_update(
            credential=issued.credential, name="renamed", role=foreign, revoked_at=None
        )

    assert Membership.objects.get(pk=membership.pk).role == basic
    stored = ApiCredential.objects.get(pk=issued.credential.pk)
    assert (stored.name, stored.role) == ("sync", basic)


# -- audit records --------------------------------------------------------------------------


def _records(channel: Channel) -> list[tuple[str, dict[str, object]]]:
    rows = AuditEvent.objects.filter(channel_id=channel.pk).order_by("id")
    return [(row.action, row.detail) for row in rows]


@pytest.mark.django_db
def test_a_role_update_records_only_a_real_change(channel: Channel) -> None:
    role = services.role_create(channel=channel, name="care", permissions=["contacts_view"])
    count = AuditEvent.objects.filter(channel_id=channel.pk).count()

    services.role_update(role=role, name=" care ", permissions=["contacts_view"])
    assert AuditEvent.objects.filter(channel_id=channel.pk).count() == count
    services.role_update(role=role, name="care", permissions=["contacts_view", "block"])

    assert _records(channel)[-1] == (
        AuditAction.ROLE_CHANGE,
        {"roleId": role.pk, "role": "care", "added": ["block"], "removed": []},
    )
    assert AuditEvent.objects.filter(channel_id=channel.pk).count() == count + 1


@pytest.mark.django_db
def test_a_refused_role_change_or_deletion_records_nothing(channel: Channel) -> None:
    owner = services.role_get(channel=channel, name="owner")
    basic = services.role_get(channel=channel, name="basic")
    services.manager_create(
        channel=channel, email="kim@shop.example", password="a-good-password-1", role=basic
    )
    count = AuditEvent.objects.filter(channel_id=channel.pk).count()

    with pytest.raises(ValidationError, match="keeps every permission"):
        services.role_update(role=owner, name="owner", permissions=[])
    with pytest.raises(ValidationError, match="cannot be deleted"):
        services.role_delete(role=owner)
    with pytest.raises(ValidationError, match="give them another role first"):
        services.role_delete(role=basic)

    assert AuditEvent.objects.filter(channel_id=channel.pk).count() == count
    assert Role.objects.filter(pk__in=[owner.pk, basic.pk]).count() == 2


@pytest.mark.django_db
def test_a_manager_is_granted_once_per_role(channel: Channel) -> None:
    basic = services.role_get(channel=channel, name="basic")
    membership = services.manager_create(
        channel=channel, email="kim@shop.example", password="a-good-password-1", role=basic
    )
    services.manager_create(channel=channel, email="kim@shop.example", password="", role=basic)
    services.membership_role_set(membership=membership, role=basic)

    grants = [r for r in _records(channel) if r[0] == AuditAction.MANAGER_GRANT]
    assert grants == [
        (
            AuditAction.MANAGER_GRANT,
            {"userId": membership.user_id, "manager": "kim@shop.example", "role": "basic"},
        )
    ]


@pytest.mark.django_db
def test_a_credential_given_back_its_access_is_granted_again(channel: Channel) -> None:
    basic = services.role_get(channel=channel, name="basic")
    credential = services.credential_create(channel=channel, role=basic, name="sync").credential
    revoked = datetime(2025, 1, 2, tzinfo=UTC)

    services.credential_update(credential=credential, name="sync", role=basic, revoked_at=revoked)
    services.credential_update(credential=credential, name="sync 2", role=basic, revoked_at=None)
    services.credential_update(credential=credential, name="sync 3", role=basic, revoked_at=None)

    same = {"credentialId": credential.pk, "accessKey": credential.access_key, "role": "basic"}
    assert _records(channel)[-3:] == [
        (AuditAction.CREDENTIAL_GRANT, {**same, "name": "sync", "created": True}),
        (AuditAction.CREDENTIAL_REVOKE, {**same, "name": "sync"}),
        (AuditAction.CREDENTIAL_GRANT, {**same, "name": "sync 2", "restored": True}),
    ]


@pytest.mark.django_db
def test_channel_settings_are_checked_and_a_refusal_changes_nothing(channel: Channel) -> None:
    count = AuditEvent.objects.filter(channel_id=channel.pk).count()

    with pytest.raises(ValidationError) as error:
        services.channel_settings_update(
            channel=channel, viewer=None, timezone="Mars/Olympus", audit_retention_days=7
        )

    assert set(error.value.message_dict) == {"timezone", "audit_retention_days"}
    stored = Channel.objects.get(pk=channel.pk)
    assert (stored.timezone, stored.audit_retention_days) == ("Asia/Seoul", 365)
    assert AuditEvent.objects.filter(channel_id=channel.pk).count() == count
    services.channel_settings_update(channel=channel, viewer=None, timezone="Asia/Seoul")
    assert AuditEvent.objects.filter(channel_id=channel.pk).count() == count
