"""The Django admin of channels, roles, managers and API credentials: scoped to the viewer's
channels, roles decide, the services' refusals shown on the form."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from crm import services
from crm.models import ApiCredential, Channel, Membership, Role
from crm.permissions import ALL_PERMISSIONS
from tests.crm.factories import UserFactory, manager_client


@pytest.mark.django_db
def test_settings_pages_need_general_settings(channel: Channel) -> None:
    basic = manager_client(channel, "basic")

    for name in ["crm_role", "crm_membership", "crm_apicredential", "crm_channel"]:
        assert basic.get(reverse(f"admin:{name}_changelist")).status_code == 403, name
    owner = manager_client(channel, "owner")
    assert owner.get(reverse("admin:crm_role_changelist")).status_code == 200


@pytest.mark.django_db
def test_roles_of_other_channels_are_invisible(channel: Channel, other_channel: Channel) -> None:
    services.role_create(channel=other_channel, name="secret-team", permissions=[])

    body = manager_client(channel).get(reverse("admin:crm_role_changelist")).content.decode()

    assert "secret-team" not in body


@pytest.mark.django_db
def test_the_admin_refuses_a_21st_role(channel: Channel) -> None:
    for n in range(18):
        services.role_create(channel=channel, name=f"r{n}", permissions=[])
    client = manager_client(channel)

    response = client.post(
        reverse("admin:crm_role_add"), {"channel": channel.pk, "name": "extra", "permissions": []}
    )

    assert response.status_code == 200
    assert "at most 20 roles" in response.content.decode()
    assert Role.objects.filter(channel=channel).count() == 20


@pytest.mark.django_db
def test_adding_a_credential_shows_its_secret_once_and_stores_a_hash(channel: Channel) -> None:
    client = manager_client(channel)
    basic = services.role_get(channel=channel, name="basic")

    response = client.post(
        reverse("admin:crm_apicredential_add"),
        {"channel": channel.pk, "name": "sync", "role": basic.pk},
        follow=True,
    )

    credential = ApiCredential.objects.get(channel=channel, name="sync")
    secret = re.search(r"secret (\S+):", response.content.decode()).group(1)  # type: ignore[union-attr]
    assert services.secret_matches(secret=secret, hashed=credential.secret_hash)
    detail = client.get(reverse("admin:crm_apicredential_change", args=[credential.pk]))
    assert secret not in detail.content.decode()


@pytest.mark.django_db
def test_adding_a_manager_with_a_foreign_role_is_refused(
    channel: Channel, other_channel: Channel
) -> None:
    client = manager_client(channel)
    foreign = services.role_get(channel=other_channel, name="owner")

    response = client.post(
        reverse("admin:crm_membership_add"),
        {
            "channel": channel.pk,
            "email": "new@shop.example",
            "password": "a-good-password-1",
            "role": foreign.pk,
        },
    )

    assert response.status_code == 200
    assert not Membership.objects.filter(user__username="new@shop.example").exists()


@pytest.mark.django_db
def test_general_settings_alone_cannot_hand_out_permissions(channel: Channel) -> None:
    settings_role = services.role_create(
        channel=channel, name="settings", permissions=["general_settings"]
    )
    client = manager_client(channel, "settings")
    owner = services.role_get(channel=channel, name="owner")

    raised = client.post(
        reverse("admin:crm_role_change", args=[settings_role.pk]),
        {"name": "settings", "permissions": ["general_settings", "sensitive_view"]},
    )
    issued = client.post(
        reverse("admin:crm_apicredential_add"),
        {"channel": channel.pk, "name": "mine", "role": owner.pk},
    )

    assert raised.status_code == 403 and issued.status_code == 403
    settings_role.refresh_from_db()
    assert settings_role.permissions == ["general_settings"]
    assert not ApiCredential.objects.filter(name="mine").exists()
    assert client.get(reverse("admin:crm_membership_changelist")).status_code == 403


@pytest.mark.django_db
def test_the_services_refusal_of_a_role_change_shows_on_the_form(channel: Channel) -> None:
    owner = services.role_get(channel=channel, name="owner")

    response = manager_client(channel).post(
        reverse("admin:crm_role_change", args=[owner.pk]),
        {"name": "owner", "permissions": ["contacts_view"]},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "permissions": ["The owner role keeps every permission."]
    }
    assert 'value="owner"' in response.content.decode()  # what was typed is kept
    owner.refresh_from_db()
    assert sorted(owner.permissions) == sorted(ALL_PERMISSIONS)


@pytest.mark.django_db
def test_renaming_the_owner_role_in_the_admin_is_refused_and_nothing_changes(
    channel: Channel,
) -> None:
    owner = services.role_get(channel=channel, name="owner")

    response = manager_client(channel).post(
        reverse("admin:crm_role_change", args=[owner.pk]),
        {"name": "boss", "permissions": ["contacts_view"]},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "permissions": ["The owner role keeps every permission."]
    }
    owner.refresh_from_db()
    assert owner.name == "owner"
    assert sorted(owner.permissions) == sorted(ALL_PERMISSIONS)


@pytest.mark.django_db
def test_a_managers_role_cannot_become_one_of_another_channel(
    channel: Channel, other_channel: Channel
) -> None:
    user = UserFactory()
    for shop in (channel, other_channel):
        services.manager_create(
            channel=shop,
            email=user.username,
            password="",
            role=services.role_get(channel=shop, name="owner"),
        )
    client = Client()
    client.force_login(user)
    kim = services.manager_create(
        channel=channel,
        email="kim@shop.example",
        password="a-good-password-1",
        role=services.role_get(channel=channel, name="basic"),
    )
    foreign = services.role_get(channel=other_channel, name="owner")
    url = reverse("admin:crm_membership_change", args=[kim.pk])

    refused = client.post(url, {"role": foreign.pk})
    owner = services.role_get(channel=channel, name="owner")
    accepted = client.post(url, {"role": owner.pk})

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "role": ["The role must belong to the same channel."]
    }
    assert accepted.status_code == 302
    kim.refresh_from_db()
    assert kim.role == owner


@pytest.mark.django_db
def test_a_credential_is_renamed_and_revoked_in_the_admin(channel: Channel) -> None:
    basic = services.role_get(channel=channel, name="basic")
    issued = services.credential_create(channel=channel, role=basic, name="sync")
    url = reverse("admin:crm_apicredential_change", args=[issued.credential.pk])

    response = manager_client(channel).post(
        url,
        {
            "name": "old sync",
            "role": basic.pk,
            "revoked_at_0": "2025-01-02",
            "revoked_at_1": "03:04:05",
        },
    )

    assert response.status_code == 302
    credential = ApiCredential.objects.get(pk=issued.credential.pk)
    revoked = datetime(2025, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Asia/Seoul"))  # TIME_ZONE's
    assert (credential.name, credential.role, credential.revoked_at) == ("old sync", basic, revoked)


@pytest.mark.django_db
def test_a_superuser_adds_a_channel_with_its_roles_and_presets() -> None:
    client = Client()
    client.force_login(UserFactory(username="root@ops.example", is_superuser=True))

    page = client.get(reverse("admin:crm_channel_add"))
    response = client.post(
        reverse("admin:crm_channel_add"),
        {"name": "New shop", "plan": "paid", "timezone": "Asia/Seoul", "require_member_hash": "on"},
    )

    assert page.status_code == 200
    assert "confirm_unverified_boots" not in page.content.decode()  # a new channel: no warning
    assert response.status_code == 302
    channel = Channel.objects.get(name="New shop")
    assert (channel.plan, channel.require_member_hash) == ("paid", True)
    assert sorted(channel.roles.values_list("name", flat=True)) == ["basic", "owner"]
    assert channel.profile_fields.exists()


@pytest.mark.django_db
def test_only_owners_see_the_member_hash_secret(channel: Channel) -> None:
    """The secret signs any member id (a verified boot reads the member unmasked)."""
    services.role_create(channel=channel, name="settings", permissions=["general_settings"])
    page = f"/admin/crm/channel/{channel.pk}/change/"
    settings_only = manager_client(channel, "settings").get(page)
    owner = manager_client(channel, "owner").get(page)
    assert settings_only.status_code == owner.status_code == 200
    assert channel.member_hash_secret not in settings_only.content.decode()
    assert channel.member_hash_secret in owner.content.decode()
