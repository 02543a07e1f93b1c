"""The job object of the API (`job_object`) and its OpenAPI description."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from crm.api import ApiErrorSerializer, epoch_ms
from crm.jobs.models import Job, JobKind, JobState


def job_object(job: Job) -> dict[str, Any]:
    """JOB as the API's job object (docs/api.md, "jobs")."""
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "state": job.state,
        "done": job.done,
        "skipped": job.skipped,
        "skippedReasons": job.skipped_reasons,
        "total": job.total,
        "error": job.error,
        "createdAt": epoch_ms(job.created_at),
        "finishedAt": epoch_ms(job.finished_at),
    }


class JobObjectSerializer(serializers.Serializer):
    """The job object: a background job of the channel, its progress and its outcome."""

    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    state = serializers.ChoiceField(choices=JobState.choices)
    done = serializers.IntegerField(help_text="Items done so far.")
    skipped = serializers.IntegerField(help_text="Items that could not take the change.")
    skippedReasons = serializers.DictField(
        child=serializers.IntegerField(), help_text="Skipped items by reason code."
    )
    total = serializers.IntegerField(
        allow_null=True, help_text="Items to go through; null when not known."
    )
    error = ApiErrorSerializer(allow_null=True, help_text="Why it failed (the error shape).")
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")
    finishedAt = serializers.IntegerField(
        allow_null=True, help_text="Epoch milliseconds; null until it has finished."
    )


class JobEnvelopeSerializer(serializers.Serializer):
    job = JobObjectSerializer()
