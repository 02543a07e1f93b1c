"""The reveal: one masked value of one contact, shown to a viewer who may reveal it, and one
audit record of who saw which key of which contact (never the value)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from contacts.models import Contact
from contacts.representation import user_object
from crm.audit import audit_record
from crm.errors import InvalidInput, Problem
from crm.models import AuditAction
from crm.permissions import Permission, Viewer
from masking.policy import NESTED, policy_for, unmasked
from profile_schema.cache import channel_fields, channel_version
from profile_schema.models import PROFILE_PREFIX


@dataclass(frozen=True)
class Revealed:
    key: str
    value: Any


def _value_of(user: dict[str, Any], key: str) -> Any:
    if key.startswith(PROFILE_PREFIX):
        return user["profile"].get(key.removeprefix(PROFILE_PREFIX))
    top, _, rest = key.partition(".")
    if top in NESTED and rest:
        return user[top].get(rest)
    return user.get(key)


def _not_revealable(viewer: Viewer, key: str) -> Problem:
    """Why KEY has nothing to reveal: no such field, or a field shown in full already."""
    channel = viewer.channel
    known = {
        row.key for row in channel_fields(channel_id=channel.pk, version=channel_version(channel))
    }
    if key not in known:
        return Problem("key", "unknown_key", f"{key[:80]!r} is not a field of this channel.")
    return Problem("key", "not_masked", f"{key} is not masked, so there is nothing to reveal.")


def contact_value_reveal(*, viewer: Viewer, contact: Contact, key: Any) -> Revealed:
    """CONTACT's value of KEY, unmasked, for VIEWER (it needs `sensitive_view`), recorded in
    the audit log. A key that is not masked for the viewer is refused (nothing to reveal), so
    every answer of this service is a reveal and has its record."""
    if not viewer.can(Permission.SENSITIVE_VIEW):
        raise PermissionDenied("Your role lacks the sensitive_view permission needed to reveal.")
    policy = policy_for(viewer)
    if not isinstance(key, str) or not key:
        raise InvalidInput([Problem("key", "required", "key names the field to reveal.")])
    if not policy.may_reveal(key):
        raise InvalidInput([_not_revealable(viewer, key)])
    value = _value_of(user_object(contact, policy=unmasked(contact.channel_id)), key)
    with transaction.atomic():
        audit_record(
            channel_id=contact.channel_id,
            viewer=viewer,
            action=AuditAction.REVEAL,
            target_user_id=contact.pk,
            keys=[key],
        )
    return Revealed(key=key, value=value)
