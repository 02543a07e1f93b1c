"""Reads for channels and memberships."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from crm.models import Channel, Membership


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
