"""Reads of channels and memberships: the one permission check, across channels and users."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from crm import services
from crm.models import Channel
from crm.permissions import Permission
from crm.selectors import (
    channel_get,
    channel_ids_with_permission,
    channels_among,
    has_permission,
    permissions_by_channel,
    viewer_for_user,
)
from tests.crm.factories import UserFactory, manager_in


@pytest.mark.django_db
def test_a_role_grants_its_permissions_in_its_own_channel_only(
    channel: Channel, other_channel: Channel
) -> None:
    user = manager_in(channel, "basic").user

    assert has_permission(user=user, channel=channel, permission=Permission.CONTACTS_VIEW)
    assert not has_permission(user=user, channel=channel, permission=Permission.BLOCK)
    assert not has_permission(user=user, channel=other_channel, permission=Permission.CONTACTS_VIEW)
    assert viewer_for_user(user=user, channel=other_channel) is None


@pytest.mark.django_db
def test_channel_ids_with_permission_lists_only_the_users_channels(
    channel: Channel, other_channel: Channel
) -> None:
    user = manager_in(channel, "owner").user
    services.manager_create(
        channel=other_channel,
        email=user.username,
        password="",
        role=services.role_get(channel=other_channel, name="basic"),
    )

    viewable = channel_ids_with_permission(user=user, permission=Permission.CONTACTS_VIEW)
    assert sorted(viewable or []) == sorted([channel.pk, other_channel.pk])
    assert channel_ids_with_permission(user=user, permission=Permission.BLOCK) == [channel.pk]


@pytest.mark.django_db
def test_anonymous_and_inactive_users_hold_nothing(channel: Channel) -> None:
    inactive = manager_in(channel, "owner", is_active=False).user

    for user in (AnonymousUser(), inactive):
        assert not has_permission(user=user, channel=channel, permission=Permission.CONTACTS_VIEW)
        assert channel_ids_with_permission(user=user, permission=Permission.CONTACTS_VIEW) == []


@pytest.mark.django_db
def test_a_superuser_holds_every_permission_everywhere(channel: Channel) -> None:
    root = UserFactory(is_superuser=True)

    assert has_permission(user=root, channel=channel, permission=Permission.SENSITIVE_VIEW)
    assert channel_ids_with_permission(user=root, permission=Permission.BLOCK) is None


@pytest.mark.django_db
def test_permissions_by_channel_holds_each_channels_role(
    channel: Channel, other_channel: Channel
) -> None:
    user = manager_in(channel, "basic").user
    root = UserFactory(is_superuser=True)

    assert permissions_by_channel(user=user) == {
        channel.pk: frozenset(services.role_get(channel=channel, name="basic").permissions)
    }
    assert permissions_by_channel(user=AnonymousUser()) == {}
    assert permissions_by_channel(user=root) is None


@pytest.mark.django_db
def test_channels_are_found_by_id_or_not_at_all(channel: Channel, other_channel: Channel) -> None:
    assert channel_get(channel_id=channel.pk) == channel
    assert channel_get(channel_id=other_channel.pk + 1000) is None
    assert list(channels_among(ids=[other_channel.pk])) == [other_channel]
    assert list(channels_among(ids=None)) == [channel, other_channel]  # by name
