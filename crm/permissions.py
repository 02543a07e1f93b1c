"""The permissions a role grants, and the one check every surface (desk, admin, API) uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from crm.models import ApiCredential, Channel


class Permission(models.TextChoices):
    GENERAL_SETTINGS = "general_settings", "General settings (fields, masking, integrations)"
    CONTACTS_VIEW = "contacts_view", "View contacts"
    CONTACTS_EDIT = "contacts_edit", "Edit contacts (tags, memo, consent, profile values)"
    CONTACTS_DELETE = "contacts_delete", "Delete contacts"
    CONTACTS_EXPORT = "contacts_export", "Export contacts"
    CONTACTS_IMPORT = "contacts_import", "Import contacts"
    SENSITIVE_VIEW = "sensitive_view", "Reveal masked values"
    CONVERSATION_START = "conversation_start", "Start a new chat or conversation"
    BLOCK = "block", "Block and unblock contacts"


ALL_PERMISSIONS: frozenset[str] = frozenset(Permission.values)
# Roles, managers and API credentials hand out permissions, so managing them needs every
# permission (an owner): nobody can grant what they do not hold.
MANAGE_ACCESS = "manage_access"
BASIC_PERMISSIONS: frozenset[str] = frozenset(
    {Permission.CONTACTS_VIEW, Permission.CONTACTS_EDIT, Permission.CONVERSATION_START}
)


@dataclass(frozen=True)
class Viewer:
    """Who is acting, in which channel, with which permissions."""

    channel: Channel
    permissions: frozenset[str] = field(default_factory=frozenset)
    user: AbstractBaseUser | None = None
    credential: ApiCredential | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def viewer_for_user(*, user: AbstractBaseUser | AnonymousUser, channel: Channel) -> Viewer | None:
    """The viewer a manager is in CHANNEL, or None when they do not belong to it."""
    from crm.models import Membership

    if not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return Viewer(channel=channel, permissions=ALL_PERMISSIONS, user=user)
    membership = (
        Membership.objects.select_related("role").filter(channel=channel, user_id=user.pk).first()
    )
    if membership is None:
        return None
    return Viewer(channel=channel, permissions=frozenset(membership.role.permissions), user=user)


def viewer_for_credential(*, credential: ApiCredential) -> Viewer:
    """The viewer an API credential is: its channel, with its role's permissions."""
    return Viewer(
        channel=credential.channel,
        permissions=frozenset(credential.role.permissions),
        credential=credential,
    )


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
    from crm.models import Membership

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
    from crm.models import Membership

    if not user.is_authenticated or not user.is_active:
        return {}
    if getattr(user, "is_superuser", False):
        return None
    rows = Membership.objects.filter(user_id=user.pk).values_list("channel_id", "role__permissions")
    return {channel_id: frozenset(permissions) for channel_id, permissions in rows}
