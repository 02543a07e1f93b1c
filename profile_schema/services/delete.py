"""Deleting a profile field definition with its stored values.

A deletion needs the count of contacts holding a value, as confirmed by the admin (a stale
count is refused); built-in fields cannot be deleted. The values go batch by batch, each batch
its own transaction (profile_field_remove_batch), then profile_field_delete_finish sweeps what
was written meanwhile under the schema lock and drops the definition last, with its index.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from profile_schema.indexes import index_sync_on_commit
from profile_schema.locks import schema_write_lock
from profile_schema.models import ProfileField
from profile_schema.services.checks import PROFILE_PREFIX
from profile_schema.statistics import statistics_sync_on_commit
from profile_schema.stored_values import (
    Batch,
    stored_values_count,
    stored_values_remove,
    stored_values_remove_batch,
    stored_values_walk,
)


class StaleConfirmation(ValidationError):
    """A deletion refused because COUNT, the contacts holding a value now, was not confirmed."""

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__({"confirm_count": [message]})
        self.count = count


def profile_field_delete(*, field: ProfileField, confirm_count: int) -> int:
    """Delete FIELD and its values (in batches) once CONFIRM_COUNT is the current count."""
    profile_field_delete_check(field=field, confirm_count=confirm_count)
    removed = stored_values_walk(lambda after: profile_field_remove_batch(field=field, after=after))
    return removed + profile_field_delete_finish(field=field)


def profile_field_delete_preview(*, field: ProfileField) -> int:
    """How many contacts hold a value of FIELD: the count a deletion must confirm."""
    if field.built_in:
        return 0
    return stored_values_count(
        channel_id=field.channel_id, key=field.key.removeprefix(PROFILE_PREFIX)
    )


def profile_field_delete_check(*, field: ProfileField, confirm_count: int) -> None:
    """Refuse to delete FIELD: a built-in field, or CONFIRM_COUNT is not the current count."""
    if field.built_in:
        raise ValidationError({"key": f"{field.key} is a built-in field; it cannot be deleted."})
    current = profile_field_delete_preview(field=field)
    if current != confirm_count:
        message = (
            f"{current} contacts now hold a value of {field.key}, not {confirm_count} as "
            "confirmed; review the new count and confirm again."
        )
        raise StaleConfirmation(message, count=current)


def profile_field_remove_batch(*, field: ProfileField, after: int) -> Batch:
    """Remove FIELD's values from one batch of its channel's contacts after contact id AFTER
    (a step of a deletion, run before profile_field_delete_finish); idempotent."""
    return stored_values_remove_batch(
        channel_id=field.channel_id, key=field.key.removeprefix(PROFILE_PREFIX), after=after
    )


@transaction.atomic
def profile_field_delete_finish(*, field: ProfileField) -> int:
    """Sweep FIELD's values written during the batches, then drop its definition (last) and
    its index; how many values the sweep removed."""
    # In-flight writes finish first; one that landed during the batches is swept up before the
    # definition goes, and later writes find the key undefined.
    schema_write_lock(channel_id=field.channel_id)
    removed = stored_values_remove(
        channel_id=field.channel_id, key=field.key.removeprefix(PROFILE_PREFIX)
    )
    row = ProfileField.objects.filter(pk=field.pk)
    index_name = row.values_list("index_name", flat=True).first()
    row.delete()
    if index_name:  # no field names it any more: the sync drops it
        index_sync_on_commit(index_name)
    statistics_sync_on_commit(field.type)
    return removed
