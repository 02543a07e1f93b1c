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
        raise InvalidInput(
            [Problem("key", "not_masked", f"{key} is not a masked field of this channel.")]
        )
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
