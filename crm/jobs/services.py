"""Writes of jobs: start, cancel, resume, and queue again those whose worker went silent; the
refusal of a change that a running job is in the way of."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from crm.errors import Conflict, Problem
from crm.jobs.kinds import job_kind_get, job_kind_permission
from crm.jobs.models import Job, JobState
from crm.jobs.queue import task_abandon, task_waiting_on
from crm.jobs.runner import job_enqueue_on_commit
from crm.jobs.selectors import jobs_silent
from crm.models import Channel
from crm.permissions import Viewer

logger = logging.getLogger(__name__)


def job_start(
    *,
    channel: Channel,
    kind: str,
    params: dict[str, Any],
    requested_by: Viewer | None,
    total: int | None = None,
) -> Job:
    """Record a job of KIND on CHANNEL and queue its run once the transaction commits."""
    spec = job_kind_get(kind)
    if requested_by is not None:
        if requested_by.channel.pk != channel.pk:
            raise ValueError("A job is requested by a viewer of its own channel.")
        _permission_check(requested_by, spec.permission)
    job = Job.objects.create(
        channel=channel,
        kind=kind,
        params=params,
        total=total,
        heartbeat_at=timezone.now(),
        requested_by_user_id=requested_by.user.pk if requested_by and requested_by.user else None,
        requested_by_credential=requested_by.credential if requested_by else None,
    )
    job_enqueue_on_commit(job_id=job.pk)
    return job


def job_in_the_way(*, job: Job, subject: str, key: str) -> Conflict:
    """The refusal of a change to SUBJECT (at request KEY) while unfinished JOB works on it."""
    message = (
        f"{subject} is busy with job {job.pk} ({job.get_kind_display().lower()}, {job.state}):"
        " try again once it has finished, or cancel it."
    )
    return Conflict(message, [Problem(key, "job_running", message)])


def job_cancel(*, job: Job, viewer: Viewer) -> Job:
    """Cancel JOB: a queued one at once, a running one between two batches; Conflict once
    it has finished."""
    _permission_check(viewer, job_kind_permission(job.kind))
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.finished:
            raise Conflict(
                f"The job has already {_finished_words[locked.state]}: only a queued or running"
                " job can be cancelled."
            )
        locked.cancel_requested = True
        fields = ["cancel_requested", "updated_at"]
        if locked.state == JobState.QUEUED:
            locked.state, locked.finished_at = JobState.CANCELLED, timezone.now()
            fields += ["state", "finished_at"]
        locked.save(update_fields=fields)
    return locked


_finished_words: dict[str, str] = {
    JobState.SUCCEEDED: "succeeded",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "been cancelled",
}


def job_resume(*, job: Job, viewer: Viewer) -> Job:
    """Queue a failed or cancelled JOB again: it goes on from its last committed batch."""
    _permission_check(viewer, job_kind_permission(job.kind))
    with transaction.atomic():
        changed = Job.objects.filter(
            pk=job.pk, state__in=[JobState.FAILED, JobState.CANCELLED]
        ).update(
            state=JobState.QUEUED,
            cancel_requested=False,
            error=None,
            finished_at=None,
            heartbeat_at=Now(),
            updated_at=Now(),
        )
        if not changed:
            job.refresh_from_db(fields=["state"])
            raise Conflict(
                f"Only a failed or cancelled job can be resumed; this one is {job.state}."
            )
        job_enqueue_on_commit(job_id=job.pk)
    job.refresh_from_db()
    return job


def jobs_requeue_stale(*, limit: int = 100) -> list[int]:
    """Queue again the jobs whose worker went silent (no heartbeat for the timeout) and the
    queued ones whose task is gone; each resumes from its last committed batch."""
    requeued = []
    # A queued job whose task still waits its turn behind other work has lost nothing: left
    # out in SQL, so any number of them never fill the LIMIT ahead of a dead one.
    waiting = Q(state=JobState.QUEUED) & Q(task_waiting_on(field="task_id"))
    for job in jobs_silent().exclude(waiting).only("pk", "state", "task_id")[:limit]:
        if _requeue(job):
            logger.warning("Job %s (%s) went silent; queued again.", job.pk, job.state)
            requeued.append(job.pk)
    return requeued


def _requeue(job: Job) -> bool:
    with transaction.atomic():
        changed = (
            jobs_silent()
            .filter(pk=job.pk, state=job.state)
            .update(state=JobState.QUEUED, run_token=None, heartbeat_at=Now(), updated_at=Now())
        )
        if changed:
            task_abandon(
                task_id=job.task_id, reason="The worker stopped; the job was queued again."
            )
            job_enqueue_on_commit(job_id=job.pk)
    return bool(changed)


def _permission_check(viewer: Viewer, permission: str) -> None:
    if not viewer.can(permission):
        raise PermissionDenied(f"Your role lacks the {permission} permission needed for this.")
