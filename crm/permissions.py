"""The permissions a role grants, and who is acting (`Viewer`).

Imports nothing from the project, so the models and every app can name a permission; the checks
that read a manager's membership are selectors (crm.selectors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

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


def viewer_for_credential(*, credential: ApiCredential) -> Viewer:
    """The viewer an API credential is: its channel, with its role's permissions."""
    return Viewer(
        channel=credential.channel,
        permissions=frozenset(credential.role.permissions),
        credential=credential,
    )
