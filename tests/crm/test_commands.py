"""The operations commands, as a script would call them."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crm import services
from crm.models import ApiCredential, Channel, Membership
from crm.permissions import ALL_PERMISSIONS
from profile_schema.models import ProfileField


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_channel_create_prints_json_with_keys_and_a_working_owner_credential() -> None:
    result = json.loads(
        run("channel_create", "--name", "Shop", "--plan", "paid", "--require-member-hash", "--json")
    )

    channel = Channel.objects.get(pk=result["id"])
    assert (channel.name, channel.plan, channel.require_member_hash) == ("Shop", "paid", True)
    assert result["pluginKey"] == channel.plugin_key
    assert result["memberHashSecret"] == channel.member_hash_secret
    credential = ApiCredential.objects.get(access_key=result["credential"]["accessKey"])
    assert services.secret_matches(
        secret=result["credential"]["accessSecret"], hashed=credential.secret_hash
    )
    assert set(credential.role.permissions) == set(ALL_PERMISSIONS)
    assert ProfileField.objects.filter(channel=channel, key="profile.email").exists()


@pytest.mark.django_db
def test_channel_create_requires_the_member_hash_unless_told_not_to() -> None:
    strict = run("channel_create", "--name", "Strict")
    lenient = run("channel_create", "--name", "Lenient", "--no-require-member-hash")

    channels = dict(Channel.objects.values_list("name", "require_member_hash"))
    assert channels == {"Strict": True, "Lenient": False}
    assert "member hash:        required: a boot with a memberId and no valid memberHash" in strict
    assert "NOT required: anyone holding the plugin key may boot as any member id" in lenient
    assert "NOT required" not in strict


@pytest.mark.django_db
def test_channel_create_json_says_whether_the_member_hash_is_required() -> None:
    result = json.loads(
        run("channel_create", "--name", "Open", "--no-require-member-hash", "--json")
    )

    assert result["requireMemberHash"] is False
    assert Channel.objects.get(pk=result["id"]).require_member_hash is False


@pytest.mark.django_db
def test_credential_create_issues_a_credential_for_the_named_role(channel: Channel) -> None:
    result = json.loads(
        run("credential_create", "--channel", str(channel.pk), "--role", "basic", "--json")
    )

    credential = ApiCredential.objects.get(access_key=result["accessKey"])
    assert (credential.channel, credential.role.name) == (channel, "basic")


@pytest.mark.django_db
def test_credential_create_names_the_roles_when_the_role_is_unknown(channel: Channel) -> None:
    with pytest.raises(CommandError, match="No role 'boss' in this channel; roles: basic, owner"):
        run("credential_create", "--channel", str(channel.pk), "--role", "boss")
    assert ApiCredential.objects.count() == 0


@pytest.mark.django_db
def test_commands_refuse_an_unknown_channel() -> None:
    with pytest.raises(CommandError, match="No channel with id 999"):
        run(
            "manager_create",
            "--channel",
            "999",
            "--email",
            "a@b.example",
            "--password",
            "a-good-password-1",
            "--role",
            "owner",
        )


@pytest.mark.django_db
def test_manager_create_adds_a_login_that_can_use_the_admin(channel: Channel, client) -> None:  # type: ignore[no-untyped-def]
    run(
        "manager_create",
        "--channel",
        str(channel.pk),
        "--email",
        "lee@shop.example",
        "--password",
        "a-good-password-1",
        "--role",
        "basic",
    )

    membership = Membership.objects.get(channel=channel, user__username="lee@shop.example")
    assert membership.role.name == "basic"
    assert client.login(username="lee@shop.example", password="a-good-password-1")
    assert client.get("/admin/contacts/contact/").status_code == 200
