"""Writes for profile field definitions."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.models import Channel
from profile_schema.models import FieldType, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS


@transaction.atomic
def profile_fields_install_presets(*, channel: Channel) -> None:
    """Give CHANNEL the built-in field definitions and the profile presets it lacks."""
    rows = [
        ProfileField(
            channel=channel,
            key=preset.key,
            name=preset.name,
            type=preset.type,
            built_in=index < len(BUILT_IN_FIELDS),
            sensitive=preset.sensitive,
            masking=preset.masking,
            order=index,
        )
        for index, preset in enumerate(BUILT_IN_FIELDS + PROFILE_PRESETS)
    ]
    ProfileField.objects.bulk_create(rows, ignore_conflicts=True)


PROFILE_KEY = re.compile(r"^[a-z][a-zA-Z0-9]{0,62}$")


@transaction.atomic
def profile_field_create(
    *, channel: Channel, key: str, name: str, type: str, sensitive: bool = False
) -> ProfileField:
    """Define a `profile.*` key: camelCase letters and digits, unique in the channel."""
    bare = key.removeprefix("profile.")
    if not PROFILE_KEY.match(bare):
        raise ValidationError(
            {
                "key": f"{key!r}: a data key is camelCase letters and digits, starting with a "
                "lowercase letter, at most 63 characters (e.g. 'profile.birthDate')."
            }
        )
    if type not in FieldType.values:
        raise ValidationError(
            {"type": f"{type!r} is not a type; allowed: {', '.join(FieldType.values)}."}
        )
    full_key = f"profile.{bare}"
    if ProfileField.objects.filter(channel=channel, key=full_key).exists():
        raise ValidationError({"key": f"{full_key} is already defined in this channel."})
    last = ProfileField.objects.filter(channel=channel).order_by("-order").first()
    return ProfileField.objects.create(
        channel=channel,
        key=full_key,
        name=name,
        type=type,
        sensitive=sensitive,
        order=(last.order + 1) if last else 0,
    )
