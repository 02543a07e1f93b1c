"""Factories for profile fields (through the service, as the product creates them)."""

from __future__ import annotations

from crm.models import Channel
from profile_schema.models import FieldType, ProfileField
from profile_schema.services import profile_field_create


def field_in(
    channel: Channel, key: str, type: str = FieldType.STRING, **options: object
) -> ProfileField:
    """A profile field KEY of TYPE in CHANNEL, named after its key."""
    return profile_field_create(
        channel=channel,
        key=key,
        name=str(options.pop("name", key)),
        type=type,
        **options,  # type: ignore[arg-type]
    )
