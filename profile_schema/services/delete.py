"""Deleting a profile field definition with its stored values.

A deletion needs the count of contacts holding a value, as confirmed by the admin (a stale
count is refused); built-in fields cannot be deleted, nor a field that a delete or type change
job works on. profile_field_delete_start queues the `fieldDelete` job: its values go batch by
batch, each batch its own transaction (profile_field_remove_batch), then
profile_field_delete_finish sweeps what was written meanwhile under the schema lock and drops
the definition last, with its index. profile_field_delete runs the same steps in one call.

The audit record (`field.delete`, with the confirmed count of contacts holding a value) is
written when the deletion is decided: with the job's start, in its transaction.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.audit import audit_record
from crm.jobs.models import Job, JobKind
from crm.jobs.services import job_start
from crm.models import AuditAction
from crm.permissions import Viewer
from profile_schema.indexes import index_build_start
from profile_schema.locks import schema_write_lock
from profile_schema.models import PROFILE_PREFIX, ProfileField
from profile_schema.services.checks import field_busy_check
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


def profile_field_delete(
    *, field: ProfileField, confirm_count: int, viewer: Viewer | None = None
) -> int:
    """Delete FIELD and its values (in batches) once CONFIRM_COUNT is the current count."""
    with transaction.atomic():
        ProfileField.objects.select_for_update().filter(pk=field.pk).first()
        profile_field_delete_check(field=field, confirm_count=confirm_count)
        _delete_record(field, viewer, confirm_count)
    removed = stored_values_walk(lambda after: profile_field_remove_batch(field=field, after=after))
    return removed + profile_field_delete_finish(field=field)


@transaction.atomic
def profile_field_delete_start(
    *, field: ProfileField, confirm_count: int | None, requested_by: Viewer | None
) -> Job:
    """Check the deletion of FIELD as profile_field_delete does (None: not confirmed), then
    start the `fieldDelete` job that removes its values and drops it."""
    # Starts on one field queue here: the second sees the first one's job.
    ProfileField.objects.select_for_update().filter(pk=field.pk).first()
    profile_field_delete_check(field=field, confirm_count=confirm_count)
    job = job_start(
        channel=field.channel,
        kind=JobKind.FIELD_DELETE,
        params={"fieldId": field.pk, "key": field.key},
        requested_by=requested_by,
        total=confirm_count,
    )
    _delete_record(field, requested_by, confirm_count, job=job.pk)
    return job


def _delete_record(
    field: ProfileField, viewer: Viewer | None, count: int | None, **more: int
) -> None:
    audit_record(
        channel_id=field.channel_id,
        viewer=viewer,
        action=AuditAction.FIELD_DELETE,
        keys=[field.key],
        detail={"type": field.type, "count": count, **more},
    )


def profile_field_delete_preview(*, field: ProfileField) -> int:
    """How many contacts hold a value of FIELD: the count a deletion must confirm."""
    if field.built_in:
        return 0
    return stored_values_count(
        channel_id=field.channel_id, key=field.key.removeprefix(PROFILE_PREFIX)
    )


def profile_field_delete_check(*, field: ProfileField, confirm_count: int | None) -> None:
    """Refuse to delete FIELD: a built-in field, a field a job works on, or CONFIRM_COUNT is
    not the current count (None, when it was not given, never is)."""
    if field.built_in:
        raise ValidationError({"key": f"{field.key} is a built-in field; it cannot be deleted."})
    field_busy_check(field)
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
    its index; how many values the sweep removed. Idempotent: once it is gone, nothing."""
    # In-flight writes finish first; one that landed during the batches is swept up before the
    # definition goes, and later writes find the key undefined.
    schema_write_lock(channel_id=field.channel_id)
    row = ProfileField.objects.select_related("channel").filter(pk=field.pk).first()
    if row is None:
        return 0
    removed = stored_values_remove(
        channel_id=row.channel_id, key=row.key.removeprefix(PROFILE_PREFIX)
    )
    row.delete()
    if row.index_name:  # no field names it any more: the job drops it
        index_build_start(field=row)
    statistics_sync_on_commit(row.type)
    return removed
