"""The schema's background work seen from above: a script's wait finishes the queued index
builds in its own process (a worker's are waited for) and syncs the statistics; the periodic
task converges them every few minutes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from crm.jobs import periodic
from crm.jobs.models import Job, JobKind
from crm.models import Channel
from profile_schema.background import index_syncs_wait, schema_converge
from profile_schema.indexes import indexes_present
from profile_schema.models import FieldType, IndexState
from profile_schema.services import profile_field_update
from tests.concurrency import run_together
from tests.profile_schema.factories import field_in
from tests.profile_schema.schema_objects import (
    _no_index_left_behind,  # noqa: F401 -- autouse
    on_key,
    statistics_of,
    statistics_reset,
    transactional,
)


def held_by_a_worker(job: Job) -> None:
    """JOB as a living worker's: running, its heartbeat fresh."""
    Job.objects.filter(pk=job.pk).update(
        state="running",
        run_token="00000000-0000-0000-0000-000000000001",
        heartbeat_at=timezone.now(),
    )


@transactional
def test_the_wait_runs_the_queued_builds_here_then_syncs_the_statistics(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    statistics_reset()
    profile_field_update(field=field, indexed=True)
    job = Job.objects.get(kind=JobKind.INDEX_BUILD)
    assert DBTaskResult.objects.get(id=job.task_id).status == "READY"  # no worker took it

    index_syncs_wait(60)

    job.refresh_from_db()
    field.refresh_from_db()
    assert (job.state, job.attempts, field.index_state) == ("succeeded", 1, IndexState.READY)
    assert indexes_present() == [field.index_name]
    assert statistics_of("profile.age") == {"profile.age": on_key("age")}


@transactional
def test_the_wait_waits_for_a_build_a_worker_runs(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    profile_field_update(field=field, indexed=True)
    job = Job.objects.get(kind=JobKind.INDEX_BUILD)
    held_by_a_worker(job)

    def worker_finishes() -> float:
        time.sleep(0.5)
        Job.objects.filter(pk=job.pk).update(
            state="succeeded", run_token=None, finished_at=timezone.now()
        )
        return time.monotonic()

    def wait() -> float:
        index_syncs_wait(30)
        return time.monotonic()

    finished, waited = run_together(2, lambda n: wait() if n else worker_finishes())

    assert waited >= finished
    assert Job.objects.get(pk=job.pk).attempts == 0  # not run here


@pytest.mark.django_db
def test_the_wait_gives_up_after_its_timeout(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    profile_field_update(field=field, indexed=True)
    held_by_a_worker(Job.objects.get(kind=JobKind.INDEX_BUILD))
    started = time.monotonic()

    index_syncs_wait(0.3)

    assert time.monotonic() - started < 5


def test_the_periodic_task_converges_the_schema_every_five_minutes() -> None:
    hook = periodic._hooks["profile_schema.converge"]

    assert (hook.run, hook.every) == (schema_converge, timedelta(minutes=5))
