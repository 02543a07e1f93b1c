"""Writes for channels, roles, managers and API credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.models import (
    MAX_ROLES_PER_CHANNEL,
    ApiCredential,
    Channel,
    Membership,
    Plan,
    Role,
    role_channel_check,
)
from crm.permissions import ALL_PERMISSIONS, BASIC_PERMISSIONS, Permission

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
def role_create(*, channel: Channel, name: str, permissions: Iterable[str]) -> Role:
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
    return role


@transaction.atomic
def role_update(*, role: Role, name: str, permissions: Iterable[str]) -> Role:
    """Rename a role or change its permissions; the owner role keeps every permission."""
    cleaned = _permissions_clean(permissions)
    # The stored row decides, not ROLE's attributes: a caller (an admin form) may already have
    # renamed the instance it passes.
    stored_name = Role.objects.select_for_update().values_list("name", flat=True).get(pk=role.pk)
    if stored_name == OWNER_ROLE and set(cleaned) != ALL_PERMISSIONS:
        raise ValidationError({"permissions": "The owner role keeps every permission."})
    if stored_name == OWNER_ROLE and name.strip() != OWNER_ROLE:
        raise ValidationError({"name": "The owner role keeps its name."})
    role.name = name.strip()
    role.permissions = cleaned
    role.full_clean()
    role.save()
    return role


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
    return IssuedCredential(credential=credential, secret=secret)


@transaction.atomic
def manager_create(*, channel: Channel, email: str, password: str, role: Role) -> Membership:
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
    membership, _ = Membership.objects.update_or_create(
        channel=channel, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def membership_role_set(*, membership: Membership, role: Role) -> Membership:
    """Give a manager another role of the same channel."""
    role_channel_check(role=role, channel_id=membership.channel_id)
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def credential_update(
    *, credential: ApiCredential, name: str, role: Role, revoked_at: datetime | None
) -> ApiCredential:
    """Rename a credential, give it another role of its channel, or revoke it."""
    role_channel_check(role=role, channel_id=credential.channel_id)
    credential.name, credential.role, credential.revoked_at = name, role, revoked_at
    credential.save(update_fields=["name", "role", "revoked_at", "updated_at"])
    return credential
