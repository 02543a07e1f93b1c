"""Writes for profile field definitions: the one place they are created, changed and deleted.

Decisions:
- Keys are camelCase letters and digits, immutable, unique per channel, and may not take the
  name of a built-in field ("tags", "lastSeenAt", "web"…); "name" is the exception, being the
  preset `profile.name` that the built-in `name` is read from.
- Built-in fields keep their key, type and display name; an admin changes only their flags
  (sensitive, masking, shown in profile) and their order. They cannot be deleted. Presets can be
  renamed, retyped (except the keys with a rule: email, mobileNumber, landlineNumber stay String)
  and deleted like any other profile field.
- Partial masking exists for String fields only (it keeps parts of phone numbers and emails); a
  type change away from String turns partial masking into full masking, which hides more.
- A type change is allowed only when every stored value converts (profile_schema.conversions);
  it is refused with the count of the contacts that block it. Deleting a field needs the count of
  contacts holding a value, as confirmed by the admin; a stale count is refused.
- A profile field marked `indexed` gets a per-key index for ranges and sorting
  (profile_schema.indexes): the flag is recorded with state pending and the index is built or
  dropped after commit, outside any transaction. Only String, Number, Date and Datetime fields
  can be marked (Boolean and List filters use the profile's GIN index), never a built-in field
  (a column with indexes of its own), and at most MAX_INDEXED_FIELDS fields a channel, since
  each index slows every write of the channel's contacts. Marking a failed field again retries.
  A type change to a type that cannot use the index unmarks the field (the index is dropped);
  deleting a field drops its index.
- Type changes and deletions touch the contacts' values in batches, each its own transaction
  (profile_schema.stored_values), so they are not wrapped in one transaction: call them outside
  an atomic block in production. Every other service here is atomic.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm.models import Channel
from profile_schema.conversions import conversion_for
from profile_schema.indexes import (
    index_name_for,
    index_supported,
    index_sync_start,
    statistics_sync_on_commit,
)
from profile_schema.locks import schema_write_lock
from profile_schema.models import FieldType, IndexState, Masking, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, BUILT_IN_KEYS, PROFILE_PRESETS
from profile_schema.rules import KEY_RULES
from profile_schema.stored_values import (
    stored_values_blocking,
    stored_values_convert,
    stored_values_count,
    stored_values_remove,
)
from profile_schema.types import TYPES

PROFILE_PREFIX = "profile."
PROFILE_KEY = re.compile(r"^[a-z][a-zA-Z0-9]{0,62}$")
NAME_MAX_LENGTH = 100
MAX_INDEXED_FIELDS = 20
_PRESET_KEYS = frozenset(p.key.removeprefix(PROFILE_PREFIX) for p in PROFILE_PRESETS)
RESERVED_KEYS: frozenset[str] = frozenset(k.split(".")[0] for k in BUILT_IN_KEYS) - _PRESET_KEYS
"""Bare keys a profile field may not take: the built-in fields' names (and 'web', 'mobile')."""


class TypeChangeBlocked(ValidationError):
    """A type change refused because COUNT contacts hold values that would not convert."""

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__({"type": [message]})
        self.count = count


class StaleConfirmation(ValidationError):
    """A deletion refused because COUNT, the contacts holding a value now, was not confirmed."""

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__({"confirm_count": [message]})
        self.count = count


@dataclass(frozen=True)
class FieldTypeChanged:
    """The outcome of a type change: the field, and how many stored values were rewritten."""

    field: ProfileField
    converted: int


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
) -> ProfileField:
    """Define a `profile.*` key: camelCase, unique in the channel, typed, placed last."""
    bare = _new_key_clean(key)
    _type_check(bare, type)
    _masking_check(type, masking)
    clean_name = _name_clean(name)
    # The channel row lock serialises creations: the key check and the order cannot race.
    Channel.objects.select_for_update().filter(pk=channel.pk).first()
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
        field.save(update_fields=_index_flag_set(field, indexed=True))
    statistics_sync_on_commit(type)
    return field


@transaction.atomic
def profile_field_update(
    *,
    field: ProfileField,
    name: str | None = None,
    order: int | None = None,
    sensitive: bool | None = None,
    masking: str | None = None,
    shown_in_profile: bool | None = None,
    indexed: bool | None = None,
) -> ProfileField:
    """Change FIELD's display name, flags or order (None keeps a value); key and type stay."""
    changes: dict[str, object] = {
        "name": name,
        "order": order,
        "sensitive": sensitive,
        "masking": masking,
        "shown_in_profile": shown_in_profile,
    }
    changes = {attribute: value for attribute, value in changes.items() if value is not None}
    _changes_check(field, changes)
    index_attributes = [] if indexed is None else _index_flag_set(field, indexed=indexed)
    for attribute, value in changes.items():
        setattr(field, attribute, value)
    if changes or index_attributes:
        field.save(update_fields=[*changes, *index_attributes, "updated_at"])
    return field


@transaction.atomic
def profile_fields_reorder(*, channel: Channel, keys: list[str]) -> None:
    """Order CHANNEL's fields as KEYS, which names each of them (full keys) exactly once."""
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
    for position, key in enumerate(keys):
        fields[key].order, fields[key].updated_at = position, now
    ProfileField.objects.bulk_update(fields.values(), ["order", "updated_at"])


def profile_field_type_change(*, field: ProfileField, type: str) -> FieldTypeChanged:
    """Retype FIELD when every stored value converts, then convert them in batches."""
    old_type = _type_switch(field=field, type=type)
    if old_type == type:
        return FieldTypeChanged(field=field, converted=0)
    converted = stored_values_convert(
        channel_id=field.channel_id,
        key=field.key.removeprefix(PROFILE_PREFIX),
        conversion=conversion_for(old_type, type),
        timezone=field.channel.timezone,
    )
    return FieldTypeChanged(field=field, converted=converted)


def profile_field_type_change_blockers(*, field: ProfileField, type: str) -> int:
    """How many contacts hold a value of FIELD that would not convert to TYPE."""
    if type == field.type:
        return 0
    return stored_values_blocking(
        channel_id=field.channel_id,
        key=field.key.removeprefix(PROFILE_PREFIX),
        conversion=conversion_for(field.type, type),
        timezone=field.channel.timezone,
    )


def profile_field_delete_preview(*, field: ProfileField) -> int:
    """How many contacts hold a value of FIELD: the count a deletion must confirm."""
    if field.built_in:
        return 0
    return stored_values_count(
        channel_id=field.channel_id, key=field.key.removeprefix(PROFILE_PREFIX)
    )


def profile_field_delete(*, field: ProfileField, confirm_count: int) -> int:
    """Delete FIELD and its values (in batches) once CONFIRM_COUNT is the current count."""
    if field.built_in:
        raise ValidationError({"key": f"{field.key} is a built-in field; it cannot be deleted."})
    current = profile_field_delete_preview(field=field)
    if current != confirm_count:
        message = (
            f"{current} contacts now hold a value of {field.key}, not {confirm_count} as "
            "confirmed; review the new count and confirm again."
        )
        raise StaleConfirmation(message, count=current)
    bare = field.key.removeprefix(PROFILE_PREFIX)
    removed = stored_values_remove(channel_id=field.channel_id, key=bare)
    with transaction.atomic():
        # In-flight writes finish first; one that landed during the batches is swept up
        # before the definition goes, and later writes find the key undefined.
        schema_write_lock(channel_id=field.channel_id)
        removed += stored_values_remove(channel_id=field.channel_id, key=bare)
        row = ProfileField.objects.filter(pk=field.pk)
        index_name = row.values_list("index_name", flat=True).first()
        row.delete()
        if index_name:  # no field names it any more: the sync drops it
            transaction.on_commit(partial(index_sync_start, index_name))
        statistics_sync_on_commit(field.type)
    return removed


@transaction.atomic
def _type_switch(*, field: ProfileField, type: str) -> str:
    """Check that FIELD may become TYPE and that nothing blocks; save it. The old type."""
    # The schema lock first (it waits for in-flight writes), then the row: one lock order.
    schema_write_lock(channel_id=field.channel_id)
    locked = ProfileField.objects.select_for_update().select_related("channel").get(pk=field.pk)
    if locked.type == type:
        return type
    if locked.built_in:
        raise ValidationError({"type": f"{locked.key} is a built-in field; its type is fixed."})
    _type_check(locked.key.removeprefix(PROFILE_PREFIX), type)
    blockers = profile_field_type_change_blockers(field=locked, type=type)
    if blockers:
        conversion = conversion_for(locked.type, type)
        message = (
            f"{blockers} contacts hold a value of {locked.key} that cannot become "
            f"{FieldType(type).label}. From {locked.type} to {type}: {conversion.rule}. "
            "Change or remove those values first."
        )
        raise TypeChangeBlocked(message, count=blockers)
    old_type = locked.type
    locked.type = type
    if Masking(locked.masking) not in TYPES[type].maskings:
        locked.masking = Masking.FULL
    unindexed = [] if index_supported(type) else _index_flag_set(locked, indexed=False)
    locked.save(update_fields=["type", "masking", *unindexed, "updated_at"])
    statistics_sync_on_commit(old_type, type)
    field.type, field.masking = locked.type, locked.masking
    field.indexed, field.index_state = locked.indexed, locked.index_state
    return old_type


def _new_key_clean(key: str) -> str:
    bare = key.strip().removeprefix(PROFILE_PREFIX)
    if not PROFILE_KEY.match(bare):
        raise ValidationError(
            {
                "key": f"{key!r}: a data key is camelCase letters and digits, starting with a "
                "lowercase letter, at most 63 characters (e.g. 'birthDate' or 'profile.birthDate')."
            }
        )
    if bare in RESERVED_KEYS:
        raise ValidationError(
            {"key": f"{bare!r} is the name of a built-in field; choose another data key."}
        )
    return bare


def _type_check(bare: str, type: str) -> None:
    if type not in TYPES:
        raise ValidationError(
            {"type": f"{type!r} is not a type; types: {', '.join(FieldType.values)}."}
        )
    if bare in KEY_RULES and type != FieldType.STRING:
        raise ValidationError(
            {"type": f"profile.{bare} has a rule for its values and stays a String field."}
        )


def _masking_check(type: str, masking: str) -> None:
    if masking not in Masking.values:
        raise ValidationError(
            {"masking": f"{masking!r} is not a masking; maskings: {', '.join(Masking.values)}."}
        )
    allowed = TYPES[type].maskings
    if Masking(masking) not in allowed:
        allowed_names = " or ".join(m.value for m in allowed)
        raise ValidationError(
            {"masking": f"A {type} field masks {allowed_names}; partial masking is for strings."}
        )


def _name_clean(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"A display name is 1 to {NAME_MAX_LENGTH} characters; got {len(clean)}."}
        )
    return clean


def _changes_check(field: ProfileField, changes: dict[str, object]) -> None:
    if "name" in changes:
        if field.built_in and changes["name"] != field.name:
            raise ValidationError(
                {"name": f"{field.key} is a built-in field; its display name is fixed."}
            )
        changes["name"] = _name_clean(str(changes["name"]))
    if "masking" in changes:
        _masking_check(field.type, str(changes["masking"]))
    order = changes.get("order")
    if isinstance(order, int) and order < 0:
        raise ValidationError({"order": f"An order is 0 or more; got {order}."})


def _index_flag_set(field: ProfileField, *, indexed: bool) -> list[str]:
    """Record INDEXED on FIELD as pending, synced after commit; the attributes to save."""
    if indexed == field.indexed and field.index_state != IndexState.FAILED:
        return []
    if indexed:
        _index_allowed(field)
    field.indexed, field.index_state, field.index_error = indexed, IndexState.PENDING, ""
    field.index_name = field.index_name or index_name_for(
        channel_id=field.channel_id, key=field.key
    )
    transaction.on_commit(partial(index_sync_start, field.index_name))
    return ["indexed", "index_state", "index_name", "index_error"]


def _index_allowed(field: ProfileField) -> None:
    if field.built_in:
        message = (
            f"{field.key} is a built-in field: a column with indexes of its own. Per-key "
            "indexes are for profile.* fields."
        )
        raise ValidationError({"indexed": ValidationError(message, code="built_in")})
    if not index_supported(field.type):
        kinds = ", ".join(FieldType(t).label for t in TYPES if index_supported(t))
        message = (
            f"{field.key} is a {FieldType(field.type).label} field, whose filters use the "
            f"profile index already; per-key indexes serve ranges and sorting of {kinds} fields."
        )
        raise ValidationError({"indexed": ValidationError(message, code="not_indexable")})
    # The channel row lock serialises markings, so the limit holds under concurrency.
    Channel.objects.select_for_update().filter(pk=field.channel_id).first()
    marked = ProfileField.objects.filter(channel_id=field.channel_id, indexed=True)
    if marked.exclude(pk=field.pk).count() >= MAX_INDEXED_FIELDS:
        message = (
            f"A channel indexes at most {MAX_INDEXED_FIELDS} fields (each index slows every "
            "write of its contacts); unmark one first."
        )
        raise ValidationError({"indexed": ValidationError(message, code="too_many_indexes")})
