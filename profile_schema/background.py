"""The schema's background work on the job framework, seen from above: the periodic converge
that starts what a lost job or task left undone, and a wait for a script (the bench) that
finishes the queued work in its own process, whether a worker runs or not.

Index builds are `indexBuild` jobs (profile_schema.jobs), statistics syncs a task queued once
at a time (profile_schema.statistics); `manage.py profile_indexes_sync` converges by hand."""

from __future__ import annotations

import logging
import time

from django.db import transaction

from crm.jobs.models import ACTIVE_STATES, Job, JobKind, JobState
from crm.jobs.runner import job_execute
from profile_schema.indexes import index_build_start, index_sync, indexes_unsettled
from profile_schema.statistics import statistics_sync, statistics_sync_request

logger = logging.getLogger(__name__)
WAIT_POLL_SECONDS = 0.2


def schema_converge() -> list[str]:
    """The periodic hook: an index build job for each field whose index does not match its
    flag, a drop of each index no field names, and a statistics sync; what it started."""
    fields, orphans = indexes_unsettled()
    started = []
    for field in fields:
        with transaction.atomic():
            job = index_build_start(field=field)
        started.append(f"job {job.pk}: index {field.index_name} of {field.key}")
    for name in orphans:  # no field, so no channel to hold a job: dropped here (no build)
        started.append(str(index_sync(name=name)))
    if started:
        logger.info("Profile schema converge: %s", "; ".join(started))
    statistics_sync_request()
    return started


def index_syncs_wait(timeout: float | None = None) -> None:
    """Finish the index builds and the statistics sync from a script: run the queued index
    build jobs in this process (a worker that takes one meanwhile finds it claimed), wait for
    those a worker runs, then sync the statistics. Gives up silently after TIMEOUT seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    unfinished = Job.objects.filter(kind=JobKind.INDEX_BUILD, state__in=ACTIVE_STATES)
    while True:
        for job_id in unfinished.filter(state=JobState.QUEUED).values_list("pk", flat=True):
            job_execute(job_id=job_id)
        if not unfinished.exists():
            break
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(WAIT_POLL_SECONDS)
    statistics_sync()
