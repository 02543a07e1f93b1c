"""Writes for channels, roles, managers and API credentials.

Every change of who may do what (a role's permissions, a manager's or a credential's access)
and of a channel's settings writes an audit record in its own transaction (crm.audit), naming
the viewer who made it (None: the system, for commands and the demo data)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.audit import audit_record
from crm.models import (
    MAX_ROLES_PER_CHANNEL,
    ApiCredential,
    AuditAction,
    Channel,
    Membership,
    Plan,
    Role,
    role_channel_check,
)
from crm.permissions import ALL_PERMISSIONS, BASIC_PERMISSIONS, Permission, Viewer

OWNER_ROLE = "owner"
BASIC_ROLE = "basic"


@dataclass(frozen=True)
class IssuedCredential:
    """A credential with its secret in clear: shown once, at creation."""

    credential: ApiCredential
    secret: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(*, secret: str, hashed: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(secret_hash(secret), hashed)


class ChannelOptions(TypedDict, total=False):
    """What a new channel may be given besides its name: channel_create's other keywords, for
    the services that create a channel through it."""

    plan: str
    timezone: str
    require_member_hash: bool
    plugin_key: str | None
    member_hash_secret: str | None


@transaction.atomic
def channel_create(
    *,
    name: str,
    plan: str = Plan.FREE,
    timezone: str = "Asia/Seoul",
    require_member_hash: bool = True,
    plugin_key: str | None = None,
    member_hash_secret: str | None = None,
) -> Channel:
    """Create a channel with its default roles (owner, basic), and no profile fields yet.

    A new channel requires the member hash of SDK boots that name a member; turning that off
    (REQUIRE_MEMBER_HASH False) lets anyone holding the public plugin key boot as any member id,
    and such boots are then held to the unverified rules (docs/sdk.md).

    A channel that takes contacts is opened with crm.provisioning.channel_provision, which adds
    the preset profile fields (profile_schema sits above crm and installs them)."""
    channel = Channel(
        name=name,
        plan=plan,
        timezone=timezone,
        require_member_hash=require_member_hash,
        plugin_key=plugin_key or secrets.token_hex(12),
        member_hash_secret=member_hash_secret or secrets.token_hex(32),
    )
    channel.full_clean()
    channel.save()
    Role.objects.bulk_create(
        [
            Role(channel=channel, name=OWNER_ROLE, permissions=sorted(ALL_PERMISSIONS)),
            Role(channel=channel, name=BASIC_ROLE, permissions=sorted(BASIC_PERMISSIONS)),
        ]
    )
    return channel


def _permissions_clean(permissions: Iterable[str]) -> list[str]:
    chosen = set(permissions)
    unknown = sorted(chosen - ALL_PERMISSIONS)
    if unknown:
        allowed = ", ".join(Permission.values)
        raise ValidationError(
            {"permissions": f"Unknown permission(s) {', '.join(unknown)}; allowed: {allowed}."}
        )
    return sorted(chosen)


@transaction.atomic
def role_create(
    *, channel: Channel, name: str, permissions: Iterable[str], viewer: Viewer | None = None
) -> Role:
    """Create a role; refused past MAX_ROLES_PER_CHANNEL roles in the channel."""
    # The channel row lock serialises concurrent creations, so the limit cannot be overrun.
    Channel.objects.select_for_update().get(pk=channel.pk)
    if Role.objects.filter(channel=channel).count() >= MAX_ROLES_PER_CHANNEL:
        raise ValidationError(
            {"name": f"A channel has at most {MAX_ROLES_PER_CHANNEL} roles; delete one first."}
        )
    role = Role(channel=channel, name=name.strip(), permissions=_permissions_clean(permissions))
    role.full_clean()
    role.save()
    _role_record(role, viewer, created=True, added=role.permissions, removed=[])
    return role


@transaction.atomic
def role_update(
    *, role: Role, name: str, permissions: Iterable[str], viewer: Viewer | None = None
) -> Role:
    """Rename a role or change its permissions; the owner role keeps every permission."""
    cleaned = _permissions_clean(permissions)
    # The stored row decides, not ROLE's attributes: a caller (an admin form) may already have
    # renamed the instance it passes.
    stored_name, stored_permissions = (
        Role.objects.select_for_update().values_list("name", "permissions").get(pk=role.pk)
    )
    if stored_name == OWNER_ROLE and set(cleaned) != ALL_PERMISSIONS:
        raise ValidationError({"permissions": "The owner role keeps every permission."})
    if stored_name == OWNER_ROLE and name.strip() != OWNER_ROLE:
        raise ValidationError({"name": "The owner role keeps its name."})
    role.name = name.strip()
    role.permissions = cleaned
    role.full_clean()
    role.save()
    added = sorted(set(cleaned) - set(stored_permissions))
    removed = sorted(set(stored_permissions) - set(cleaned))
    if added or removed or role.name != stored_name:
        renamed = {"renamedFrom": stored_name} if role.name != stored_name else {}
        _role_record(role, viewer, added=added, removed=removed, **renamed)
    return role


@transaction.atomic
def role_delete(*, role: Role, viewer: Viewer | None = None) -> None:
    """Delete a role no manager or credential holds; the owner role stays."""
    stored_name = Role.objects.select_for_update().values_list("name", flat=True).get(pk=role.pk)
    if stored_name == OWNER_ROLE:
        raise ValidationError({"name": "The owner role cannot be deleted."})
    if role.memberships.exists() or role.credentials.exists():
        raise ValidationError(
            {
                "name": f"Managers or API credentials hold the role {stored_name!r}; "
                "give them another role first."
            }
        )
    _role_record(role, viewer, deleted=True, added=[], removed=sorted(role.permissions))
    role.delete()


def _role_record(role: Role, viewer: Viewer | None, **detail: Any) -> None:
    audit_record(
        channel_id=role.channel_id,
        viewer=viewer,
        action=AuditAction.ROLE_CHANGE,
        detail={"roleId": role.pk, "role": role.name, **detail},
    )


def role_get(*, channel: Channel, name: str) -> Role:
    """The channel's role called NAME, or a ValidationError naming the roles there are."""
    role = Role.objects.filter(channel=channel, name=name).first()
    if role is None:
        names = ", ".join(Role.objects.filter(channel=channel).values_list("name", flat=True))
        raise ValidationError({"role": f"No role {name!r} in this channel; roles: {names}."})
    return role


@transaction.atomic
def credential_create(
    *,
    channel: Channel,
    role: Role,
    name: str = "",
    access_key: str | None = None,
    secret: str | None = None,
    viewer: Viewer | None = None,
) -> IssuedCredential:
    """Issue an API access key + secret acting with ROLE; the secret is returned once.

    Key and secret are random unless given (the demo data uses published ones)."""
    role_channel_check(role=role, channel_id=channel.pk)
    secret = secret or secrets.token_urlsafe(32)
    credential = ApiCredential.objects.create(
        channel=channel,
        role=role,
        name=name,
        access_key=access_key or secrets.token_hex(12),
        secret_hash=secret_hash(secret),
    )
    _credential_record(credential, viewer, AuditAction.CREDENTIAL_GRANT, created=True)
    return IssuedCredential(credential=credential, secret=secret)


@transaction.atomic
def manager_create(
    *, channel: Channel, email: str, password: str, role: Role, viewer: Viewer | None = None
) -> Membership:
    """Create (or reuse) the user with EMAIL and make them a manager of CHANNEL with ROLE."""
    role_channel_check(role=role, channel_id=channel.pk)
    email = get_user_model().objects.normalize_email(email).strip()
    user_model = get_user_model()
    user = user_model.objects.filter(username__iexact=email).first()
    if user is None:
        user = user_model(username=email, email=email, is_staff=True)
        if not password:
            raise ValidationError({"password": "A new manager needs a password."})
        password_validation.validate_password(password, user)
        user.set_password(password)
        user.full_clean()
        user.save()
    assert isinstance(user, AbstractUser)
    previous = (
        Membership.objects.select_for_update(of=("self",))
        .filter(channel=channel, user=user)
        .values_list("role__name", flat=True)
        .first()
    )
    membership, _ = Membership.objects.update_or_create(
        channel=channel, user=user, defaults={"role": role}
    )
    if previous != role.name:
        _manager_record(membership, viewer, AuditAction.MANAGER_GRANT, previousRole=previous)
    return membership


@transaction.atomic
def membership_role_set(
    *, membership: Membership, role: Role, viewer: Viewer | None = None
) -> Membership:
    """Give a manager another role of the same channel."""
    role_channel_check(role=role, channel_id=membership.channel_id)
    previous = (
        Membership.objects.select_for_update(of=("self",))
        .values_list("role__name", flat=True)
        .get(pk=membership.pk)
    )
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    if previous != role.name:
        _manager_record(membership, viewer, AuditAction.MANAGER_GRANT, previousRole=previous)
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership, viewer: Viewer | None = None) -> None:
    """Remove a manager from a channel (their login stays, for their other channels)."""
    _manager_record(membership, viewer, AuditAction.MANAGER_REVOKE)
    membership.delete()


def _manager_record(
    membership: Membership, viewer: Viewer | None, action: str, **detail: Any
) -> None:
    user = membership.user
    audit_record(
        channel_id=membership.channel_id,
        viewer=viewer,
        action=action,
        detail={
            "userId": user.pk,
            "manager": user.get_username(),
            "role": membership.role.name,
            **{key: value for key, value in detail.items() if value is not None},
        },
    )


@transaction.atomic
def credential_update(
    *,
    credential: ApiCredential,
    name: str,
    role: Role,
    revoked_at: datetime | None,
    viewer: Viewer | None = None,
) -> ApiCredential:
    """Rename a credential, give it another role of its channel, or revoke it (a revoked one
    given no revocation time acts again)."""
    role_channel_check(role=role, channel_id=credential.channel_id)
    stored_role, was_revoked = (
        ApiCredential.objects.select_for_update(of=("self",))
        .values_list("role__name", "revoked_at")
        .get(pk=credential.pk)
    )
    credential.name, credential.role, credential.revoked_at = name, role, revoked_at
    credential.save(update_fields=["name", "role", "revoked_at", "updated_at"])
    if revoked_at is not None and was_revoked is None:
        _credential_record(credential, viewer, AuditAction.CREDENTIAL_REVOKE)
    elif revoked_at is None and was_revoked is not None:
        _credential_record(credential, viewer, AuditAction.CREDENTIAL_GRANT, restored=True)
    elif stored_role != role.name:
        _credential_record(
            credential, viewer, AuditAction.CREDENTIAL_GRANT, previousRole=stored_role
        )
    return credential


@transaction.atomic
def credential_delete(*, credential: ApiCredential, viewer: Viewer | None = None) -> None:
    """Delete an API credential: its key stops working at once."""
    _credential_record(credential, viewer, AuditAction.CREDENTIAL_REVOKE, deleted=True)
    credential.delete()


def _credential_record(
    credential: ApiCredential, viewer: Viewer | None, action: str, **detail: Any
) -> None:
    audit_record(
        channel_id=credential.channel_id,
        viewer=viewer,
        action=action,
        detail={
            "credentialId": credential.pk,
            "accessKey": credential.access_key,
            "name": credential.name,
            "role": credential.role.name,
            **detail,
        },
    )


class ChannelSettings(TypedDict, total=False):
    """What a channel's settings page may change; an absent key keeps the value."""

    name: str
    plan: str
    timezone: str
    require_member_hash: bool
    audit_retention_days: int
    phone_number: str
    kakao_channel_id: str


# The settings' names in the audit log, as the API spells keys.
CHANNEL_SETTING_NAMES = {
    "name": "name",
    "plan": "plan",
    "timezone": "timezone",
    "require_member_hash": "requireMemberHash",
    "audit_retention_days": "auditRetentionDays",
    "phone_number": "phoneNumber",
    "kakao_channel_id": "kakaoChannelId",
}
# Settings whose before and after the record keeps: flags and numbers of the channel's own.
CHANNEL_SETTINGS_SHOWN = ("plan", "require_member_hash", "audit_retention_days")


@transaction.atomic
def channel_settings_update(
    *, channel: Channel, viewer: Viewer | None, **changes: Unpack[ChannelSettings]
) -> Channel:
    """Change CHANNEL's settings as given; the audit record names the settings that changed
    (with before and after for the plan, the member-hash requirement and the retention)."""
    stored = Channel.objects.select_for_update().get(pk=channel.pk)
    given: dict[str, Any] = dict(changes)
    changed = [name for name, value in given.items() if getattr(stored, name) != value]
    shown = [name for name in CHANNEL_SETTINGS_SHOWN if name in changed]
    before = {CHANNEL_SETTING_NAMES[name]: getattr(stored, name) for name in shown}
    for name in changed:
        setattr(stored, name, given[name])
    stored.full_clean()
    if changed:
        stored.save(update_fields=[*changed, "updated_at"])
        audit_record(
            channel_id=channel.pk,
            viewer=viewer,
            action=AuditAction.CHANNEL_CHANGE,
            detail={
                "changed": [CHANNEL_SETTING_NAMES[name] for name in changed],
                "before": before,
                "after": {CHANNEL_SETTING_NAMES[name]: given[name] for name in shown},
            },
        )
    for name in changed:
        setattr(channel, name, given[name])
    channel.updated_at = stored.updated_at
    return channel
