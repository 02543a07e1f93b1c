"""Opening a channel: its roles from crm, its preset profile fields from profile_schema."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.models import Channel, Role
from crm.permissions import ALL_PERMISSIONS, BASIC_PERMISSIONS
from crm.provisioning import channel_provision
from profile_schema.models import ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS


@pytest.mark.django_db
def test_channel_provision_gives_default_roles_and_every_preset_field() -> None:
    channel = channel_provision(name="Shop", plan="paid")

    roles = {role.name: set(role.permissions) for role in channel.roles.all()}
    assert roles == {"owner": set(ALL_PERMISSIONS), "basic": set(BASIC_PERMISSIONS)}
    fields = ProfileField.objects.filter(channel=channel)
    assert fields.count() == len(BUILT_IN_FIELDS) + len(PROFILE_PRESETS)
    assert set(fields.filter(built_in=True).values_list("key", flat=True)) == {
        p.key for p in BUILT_IN_FIELDS
    }
    mobile = fields.get(key="profile.mobileNumber")
    assert (mobile.type, mobile.built_in, mobile.sensitive, mobile.masking) == (
        "string",
        False,
        True,
        "partial",
    )
    assert len(channel.plugin_key) == 24
    assert len(bytes.fromhex(channel.member_hash_secret)) == 32


@pytest.mark.django_db
def test_channel_provision_refuses_an_unknown_timezone_and_writes_nothing() -> None:
    with pytest.raises(ValidationError) as error:
        channel_provision(name="Shop", timezone="Mars/Olympus")

    assert "timezone" in error.value.message_dict
    assert (Channel.objects.count(), Role.objects.count(), ProfileField.objects.count()) == (
        0,
        0,
        0,
    )
