"""Reads of jobs: a viewer's, the unfinished one working on a thing, and the silent ones the
periodic task queues again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import Now
from django.http import Http404

from crm.ids import id_parse
from crm.jobs.models import ACTIVE_STATES, Job, JobState
from crm.models import Channel
from crm.permissions import Viewer


def jobs_for_channel(*, channel: Channel) -> QuerySet[Job]:
    """The jobs of CHANNEL, newest first."""
    return Job.objects.filter(channel=channel).order_by("-created_at", "-id")


def job_get(*, viewer: Viewer, job_id: str) -> Job:
    """The job JOB_ID of the viewer's channel; Http404 for any other (or a malformed id)."""
    pk = id_parse(job_id)
    job = jobs_for_channel(channel=viewer.channel).filter(pk=pk).first() if pk else None
    if job is None:
        raise Http404("No such job in this channel.")
    return job


def job_active_on(*, channel_id: int, kinds: Iterable[str], params: dict[str, Any]) -> Job | None:
    """The unfinished (queued or running) job of the channel, of one of KINDS, whose params
    hold PARAMS: the job working on that thing now; None when there is none."""
    return (
        Job.objects.filter(
            channel_id=channel_id,
            kind__in=list(kinds),
            state__in=ACTIVE_STATES,
            params__contains=params,
        )
        .order_by("created_at", "id")
        .first()
    )


def jobs_silent(*, timeout_s: float | None = None) -> QuerySet[Job]:
    """Unfinished jobs whose heartbeat is older than the timeout, by the database's clock
    (the same for every machine)."""
    seconds = settings.JOB_HEARTBEAT_TIMEOUT_S if timeout_s is None else timeout_s
    cutoff = Now() - timedelta(seconds=seconds)
    active = Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING)
    return Job.objects.filter(active, heartbeat_at__lt=cutoff).order_by("heartbeat_at")
