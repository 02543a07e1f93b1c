"""Creating and ordering profile field definitions, and the definitions every channel starts
with (built-in fields and presets)."""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm.audit import audit_record
from crm.models import AuditAction, Channel
from crm.permissions import Viewer
from profile_schema.models import PROFILE_PREFIX, Masking, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS
from profile_schema.services.checks import (
    API_NAMES,
    channel_lock,
    index_flag_set,
    masking_check,
    name_clean,
    new_key_clean,
    type_check,
)
from profile_schema.statistics import statistics_sync_on_commit


@transaction.atomic
def profile_fields_install_presets(*, channel: Channel) -> None:
    """Give CHANNEL the built-in field definitions and the profile presets it lacks (part of
    opening a channel: no audit record)."""
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
    statistics_sync_on_commit(*(preset.type for preset in PROFILE_PRESETS))


@transaction.atomic
def profile_field_create(
    *,
    channel: Channel,
    key: str,
    name: str,
    type: str,
    sensitive: bool = False,
    masking: str = Masking.FULL,
    shown_in_profile: bool = True,
    indexed: bool = False,
    viewer: Viewer | None = None,
) -> ProfileField:
    """Define a `profile.*` key: camelCase, unique in the channel, typed, placed last; the
    audit record, by VIEWER (None: the system), names its key, type and flags."""
    bare = new_key_clean(key)
    type_check(bare, type)
    masking_check(type, masking)
    clean_name = name_clean(name)
    # The channel row lock serialises creations: the key check and the order cannot race.
    channel_lock(channel.pk)
    full_key = PROFILE_PREFIX + bare
    if ProfileField.objects.filter(channel=channel, key=full_key).exists():
        raise ValidationError({"key": f"{full_key} is already defined in this channel."})
    last = ProfileField.objects.filter(channel=channel).aggregate(last=Max("order"))["last"]
    field = ProfileField.objects.create(
        channel=channel,
        key=full_key,
        name=clean_name,
        type=type,
        sensitive=sensitive,
        masking=masking,
        shown_in_profile=shown_in_profile,
        order=0 if last is None else last + 1,
    )
    if indexed:
        field.save(update_fields=index_flag_set(field, indexed=True))
    statistics_sync_on_commit(type)
    flags = ("type", "sensitive", "masking", "shown_in_profile", "indexed")
    audit_record(
        channel_id=channel.pk,
        viewer=viewer,
        action=AuditAction.FIELD_CREATE,
        keys=[full_key],
        detail={API_NAMES[flag]: getattr(field, flag) for flag in flags},
    )
    return field


@transaction.atomic
def profile_fields_reorder(
    *, channel: Channel, keys: list[str], viewer: Viewer | None = None
) -> None:
    """Order CHANNEL's fields as KEYS, which names each of them (full keys) exactly once; one
    audit record names the fields that moved."""
    fields = {f.key: f for f in ProfileField.objects.select_for_update().filter(channel=channel)}
    twice = sorted(key for key, seen in Counter(keys).items() if seen > 1)
    unknown = sorted(set(keys) - fields.keys())
    missing = sorted(fields.keys() - set(keys))
    problems = [
        f"{label}: {', '.join(found)}."
        for label, found in (("Listed twice", twice), ("Not fields here", unknown))
        if found
    ]
    if missing:
        problems.append(f"Missing (list every field of the channel): {', '.join(missing)}.")
    if problems:
        raise ValidationError({"keys": problems})
    now = timezone.now()
    moved = [key for position, key in enumerate(keys) if fields[key].order != position]
    for position, key in enumerate(keys):
        fields[key].order, fields[key].updated_at = position, now
    ProfileField.objects.bulk_update(fields.values(), ["order", "updated_at"])
    if moved:
        audit_record(
            channel_id=channel.pk,
            viewer=viewer,
            action=AuditAction.FIELD_CHANGE,
            keys=moved,
            detail={"changed": ["order"]},
        )
