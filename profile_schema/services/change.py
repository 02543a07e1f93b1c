"""Changing a profile field definition: name, flags, order, index flag and type, at once.

profile_field_change_start is the one service behind the API's PATCH and the admin's forms.
Every change is checked once and saved in one transaction (profile_field_change_save), so a
refusal changes nothing. A new type is allowed only when every stored value converts
(profile_schema.conversions; refused with the count of the contacts that block it), and not
while a delete or type change job works on the field; the definition switches first, then the
`typeChange` job converts the values batch by batch, each batch its own transaction
(profile_field_convert_batch). profile_field_change runs the conversion in the same call.

The save writes the audit records in its transaction: `field.change` naming the attributes
that changed, and a separate `masking.change` with the masking flags before and after when
`sensitive` or `masking` changed (a new type may force full masking).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict, Unpack

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.audit import audit_record
from crm.jobs.models import Job, JobKind
from crm.jobs.services import job_start
from crm.models import AuditAction
from crm.permissions import Viewer
from profile_schema.conversions import conversion_for
from profile_schema.indexes import index_supported
from profile_schema.locks import schema_write_lock
from profile_schema.models import PROFILE_PREFIX, FieldType, Masking, ProfileField
from profile_schema.services.checks import (
    API_NAMES,
    changes_check,
    field_busy_check,
    index_flag_set,
    type_check,
    type_known,
)
from profile_schema.statistics import statistics_sync_on_commit
from profile_schema.stored_values import (
    Batch,
    stored_values_blocking,
    stored_values_convert_batch,
    stored_values_count,
    stored_values_walk,
)
from profile_schema.types import TYPES


class TypeChangeBlocked(ValidationError):
    """A type change refused because COUNT contacts hold values that would not convert."""

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__({"type": [message]})
        self.count = count


@dataclass(frozen=True)
class FieldTypeChanged:
    """The outcome of a change: the field, and how many stored values a new type rewrote."""

    field: ProfileField
    converted: int


class FieldChanges(TypedDict, total=False):
    """What a change of a field may set; an absent key or None keeps the value."""

    name: str | None
    type: str | None
    sensitive: bool | None
    masking: str | None
    shown_in_profile: bool | None
    order: int | None
    indexed: bool | None


def profile_field_change(
    *, field: ProfileField, viewer: Viewer | None = None, **changes: Unpack[FieldChanges]
) -> FieldTypeChanged:
    """Change FIELD as given (None keeps a value) in one transaction, then convert the stored
    values of a new type in batches."""
    source = profile_field_change_save(field=field, viewer=viewer, **changes)
    if source == field.type:
        return FieldTypeChanged(field=field, converted=0)
    converted = stored_values_walk(
        lambda after: profile_field_convert_batch(field=field, source=source, after=after)
    )
    return FieldTypeChanged(field=field, converted=converted)


@transaction.atomic
def profile_field_change_start(
    *, field: ProfileField, requested_by: Viewer | None, **changes: Unpack[FieldChanges]
) -> Job | None:
    """Change FIELD as given (None keeps a value) in one transaction; a new type's stored
    values are left to the `typeChange` job started with it (None when the type stays)."""
    source = profile_field_change_save(field=field, viewer=requested_by, **changes)
    if source == field.type:
        return None
    key = field.key.removeprefix(PROFILE_PREFIX)
    return job_start(
        channel=field.channel,
        kind=JobKind.TYPE_CHANGE,
        params={"fieldId": field.pk, "key": field.key, "from": source, "to": field.type},
        requested_by=requested_by,
        total=stored_values_count(channel_id=field.channel_id, key=key),
    )


@transaction.atomic
def profile_field_change_save(
    *,
    field: ProfileField,
    name: str | None = None,
    type: str | None = None,
    sensitive: bool | None = None,
    masking: str | None = None,
    shown_in_profile: bool | None = None,
    order: int | None = None,
    indexed: bool | None = None,
    viewer: Viewer | None = None,
) -> str:
    """Check and save the changes to FIELD in one transaction, a new type included (its stored
    values still to convert), with their audit records by VIEWER; the type FIELD had."""
    given: dict[str, object] = {
        "name": name,
        "order": order,
        "sensitive": sensitive,
        "masking": masking,
        "shown_in_profile": shown_in_profile,
    }
    changes = {attribute: value for attribute, value in given.items() if value is not None}
    row = _retype_lock(field) if type is not None and type != field.type else field
    source = row.type
    before = _audited(row)
    if type is not None and type != source:
        type_known(type)
        row.type = type  # the other changes are checked as the field will be
    attributes = _changes_set(row, changes, indexed)
    if row.type != source:
        attributes += _type_set(row, source)
    if attributes:
        row.save(update_fields=[*dict.fromkeys(attributes), "updated_at"])
        _change_record(row, viewer, before)
    if row is not field:
        for attribute in [*attributes, "updated_at"]:
            setattr(field, attribute, getattr(row, attribute))
    return source


AUDITED = ("name", "type", "order", "indexed", "shown_in_profile")
MASKING_FLAGS = ("sensitive", "masking")


def _audited(field: ProfileField) -> dict[str, object]:
    return {attribute: getattr(field, attribute) for attribute in (*AUDITED, *MASKING_FLAGS)}


def _change_record(field: ProfileField, viewer: Viewer | None, before: dict[str, object]) -> None:
    """The audit records of FIELD's change from BEFORE: the attributes that changed (the
    type with its old and new name), and the masking flags apart."""
    after = _audited(field)
    changed = [API_NAMES[a] for a in AUDITED if before[a] != after[a]]
    if changed:
        detail: dict[str, object] = {"changed": changed}
        if before["type"] != after["type"]:
            detail["type"] = {"before": before["type"], "after": after["type"]}
        _record(field, viewer, AuditAction.FIELD_CHANGE, detail)
    if any(before[flag] != after[flag] for flag in MASKING_FLAGS):
        flags: dict[str, object] = {
            "before": {flag: before[flag] for flag in MASKING_FLAGS},
            "after": {flag: after[flag] for flag in MASKING_FLAGS},
        }
        _record(field, viewer, AuditAction.MASKING_CHANGE, flags)


def _record(
    field: ProfileField, viewer: Viewer | None, action: str, detail: dict[str, object]
) -> None:
    audit_record(
        channel_id=field.channel_id, viewer=viewer, action=action, keys=[field.key], detail=detail
    )


def profile_field_convert_batch(*, field: ProfileField, source: str, after: int) -> Batch:
    """Convert one batch of FIELD's stored values from SOURCE to its type, after contact id
    AFTER (a step of a type change, run once the definition switched); idempotent."""
    return stored_values_convert_batch(
        channel_id=field.channel_id,
        key=field.key.removeprefix(PROFILE_PREFIX),
        conversion=conversion_for(source, field.type),
        timezone=field.channel.timezone,
        after=after,
    )


def profile_field_update(
    *,
    field: ProfileField,
    name: str | None = None,
    order: int | None = None,
    sensitive: bool | None = None,
    masking: str | None = None,
    shown_in_profile: bool | None = None,
    indexed: bool | None = None,
    viewer: Viewer | None = None,
) -> ProfileField:
    """Change FIELD's display name, flags or order (None keeps a value); key and type stay."""
    profile_field_change_save(
        field=field,
        viewer=viewer,
        name=name,
        order=order,
        sensitive=sensitive,
        masking=masking,
        shown_in_profile=shown_in_profile,
        indexed=indexed,
    )
    return field


def profile_field_type_change(
    *, field: ProfileField, type: str, viewer: Viewer | None = None
) -> FieldTypeChanged:
    """Retype FIELD when every stored value converts, then convert them in batches."""
    return profile_field_change(field=field, type=type, viewer=viewer)


def profile_field_type_change_blockers(*, field: ProfileField, type: str) -> int:
    """How many contacts hold a value of FIELD that would not convert to TYPE."""
    if type == field.type:
        return 0
    return _blockers(field, source=field.type, target=type)


def _retype_lock(field: ProfileField) -> ProfileField:
    """FIELD's row, locked, once in-flight writes of its channel are done (the schema lock
    first, then the row: one lock order); refused while a job rewrites its values."""
    schema_write_lock(channel_id=field.channel_id)
    row = ProfileField.objects.select_for_update().select_related("channel").get(pk=field.pk)
    field_busy_check(row)
    return row


def _changes_set(row: ProfileField, changes: dict[str, object], indexed: bool | None) -> list[str]:
    """Check CHANGES and INDEXED against ROW as its type is now, and set them; the attributes."""
    changes_check(row, changes)
    index_attributes = [] if indexed is None else index_flag_set(row, indexed=indexed)
    for attribute, value in changes.items():
        setattr(row, attribute, value)
    return [*changes, *index_attributes]


def _type_set(row: ProfileField, source: str) -> list[str]:
    """Check that ROW may go from SOURCE to its new type, with no stored value in the way;
    what follows from it (masking, index); the attributes to save."""
    target = row.type
    if row.built_in:
        raise ValidationError({"type": f"{row.key} is a built-in field; its type is fixed."})
    type_check(row.key.removeprefix(PROFILE_PREFIX), target)
    blockers = _blockers(row, source=source, target=target)
    if blockers:
        conversion = conversion_for(source, target)
        message = (
            f"{blockers} contacts hold a value of {row.key} that cannot become "
            f"{FieldType(target).label}. From {source} to {target}: {conversion.rule}. "
            "Change or remove those values first."
        )
        raise TypeChangeBlocked(message, count=blockers)
    attributes = ["type", "masking"]
    if Masking(row.masking) not in TYPES[target].maskings:
        row.masking = Masking.FULL  # partial masking is for strings; full hides more
    if not index_supported(target):
        attributes += index_flag_set(row, indexed=False)
    statistics_sync_on_commit(source, target)
    return attributes


def _blockers(field: ProfileField, *, source: str, target: str) -> int:
    return stored_values_blocking(
        channel_id=field.channel_id,
        key=field.key.removeprefix(PROFILE_PREFIX),
        conversion=conversion_for(source, target),
        timezone=field.channel.timezone,
    )
