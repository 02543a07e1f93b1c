"""Reads for channels, memberships and what a manager may do where (the one permission check)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from crm.models import Channel, Membership
from crm.permissions import ALL_PERMISSIONS, Viewer


def channel_get(*, channel_id: int) -> Channel | None:
    """The channel with CHANNEL_ID, or None (for operators' commands: no viewer to scope by)."""
    return Channel.objects.filter(pk=channel_id).first()


def channels_among(*, ids: list[int] | None) -> QuerySet[Channel]:
    """The channels with these IDS, by name; None means every channel (a superuser's scope)."""
    return Channel.objects.all() if ids is None else Channel.objects.filter(pk__in=ids)


def memberships_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Membership]:
    """The channels a manager belongs to, with their role, by channel name."""
    return (
        Membership.objects.filter(user_id=user.pk or 0)
        .select_related("channel", "role")
        .order_by("channel__name", "channel_id")
    )


def channels_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Channel]:
    """Channels a manager may open: theirs, or every channel for a superuser."""
    if getattr(user, "is_superuser", False):
        return Channel.objects.all()
    return Channel.objects.filter(memberships__user_id=user.pk or 0)


def viewer_for_user(*, user: AbstractBaseUser | AnonymousUser, channel: Channel) -> Viewer | None:
    """The viewer a manager is in CHANNEL, or None when they do not belong to it."""
    if not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return Viewer(channel=channel, permissions=ALL_PERMISSIONS, user=user)
    membership = (
        Membership.objects.select_related("role").filter(channel=channel, user_id=user.pk).first()
    )
    if membership is None:
        return None
    return viewer_in_membership(user=user, membership=membership)


def viewer_in_membership(*, user: AbstractBaseUser, membership: Membership) -> Viewer:
    """The viewer USER is in MEMBERSHIP's channel, from the membership and role already read."""
    if getattr(user, "is_superuser", False):
        return Viewer(channel=membership.channel, permissions=ALL_PERMISSIONS, user=user)
    permissions = frozenset(membership.role.permissions)
    return Viewer(channel=membership.channel, permissions=permissions, user=user)


def has_permission(
    *, user: AbstractBaseUser | AnonymousUser, channel: Channel, permission: str
) -> bool:
    """Whether USER may do PERMISSION in CHANNEL: the one check behind every surface."""
    viewer = viewer_for_user(user=user, channel=channel)
    return viewer is not None and viewer.can(permission)


def channel_ids_with_permission(
    *, user: AbstractBaseUser | AnonymousUser, permission: str
) -> list[int] | None:
    """Channel ids where USER holds PERMISSION; None means every channel (a superuser)."""
    if not user.is_authenticated or not user.is_active:
        return []
    if getattr(user, "is_superuser", False):
        return None
    return list(
        Membership.objects.filter(
            user_id=user.pk, role__permissions__contains=[permission]
        ).values_list("channel_id", flat=True)
    )


def permissions_by_channel(
    *, user: AbstractBaseUser | AnonymousUser
) -> dict[int, frozenset[str]] | None:
    """Every channel USER belongs to with the permissions held there; None for a superuser."""
    if not user.is_authenticated or not user.is_active:
        return {}
    if getattr(user, "is_superuser", False):
        return None
    rows = Membership.objects.filter(user_id=user.pk).values_list("channel_id", "role__permissions")
    return {channel_id: frozenset(permissions) for channel_id, permissions in rows}
