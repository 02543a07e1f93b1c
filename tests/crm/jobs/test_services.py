"""Starting, cancelling, resuming jobs, queueing again those whose worker went silent, and the
refusal naming a job in the way."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Now
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from crm import services as crm_services
from crm.errors import Conflict
from crm.jobs.models import Job, JobState
from crm.jobs.services import (
    job_cancel,
    job_in_the_way,
    job_resume,
    job_start,
    jobs_requeue_stale,
)
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Permission, Viewer, viewer_for_credential
from tests.crm.factories import manager_in
from tests.crm.jobs.conftest import COUNTING, counting_job

pytestmark = pytest.mark.django_db


def owner(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def basic(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=frozenset({Permission.CONTACTS_VIEW}))


def queued_tasks() -> list[dict[str, Any]]:
    rows = DBTaskResult.objects.order_by("enqueued_at")
    return [
        {"path": row.task_path, "args": row.args_kwargs["args"], "status": row.status}
        for row in rows
    ]


def test_a_started_job_is_queued_and_its_task_waits_for_a_worker_once_committed(
    channel: Channel, counting: None, django_capture_on_commit_callbacks: Any
) -> None:
    credential = crm_services.credential_create(
        channel=channel, role=crm_services.role_get(channel=channel, name="owner")
    ).credential

    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(
            channel=channel,
            kind=COUNTING,
            params={"items": 3},
            requested_by=viewer_for_credential(credential=credential),
        )
        assert queued_tasks() == []  # nothing is queued before the commit

    job.refresh_from_db()
    assert (job.state, job.kind, job.params, job.done, job.total, job.attempts) == (
        "queued",
        "export",
        {"items": 3},
        0,
        None,
        0,
    )
    assert (job.requested_by_credential, job.requested_by_user) == (credential, None)
    assert queued_tasks() == [
        {"path": "crm.jobs.runner.job_run", "args": [job.pk], "status": "READY"}
    ]
    assert job.task_id == str(DBTaskResult.objects.get().id)


def test_a_job_remembers_the_manager_who_started_it(channel: Channel, counting: None) -> None:
    user = manager_in(channel, "owner").user
    viewer = Viewer(channel=channel, permissions=ALL_PERMISSIONS, user=user)

    job = job_start(channel=channel, kind=COUNTING, params={"items": 1}, requested_by=viewer)

    assert (job.requested_by_user_id, job.requested_by_credential) == (user.pk, None)


def test_starting_needs_the_permission_of_the_kind_and_creates_nothing_without(
    channel: Channel, counting: None
) -> None:
    with pytest.raises(PermissionDenied, match="lacks the general_settings permission"):
        job_start(channel=channel, kind=COUNTING, params={"items": 1}, requested_by=basic(channel))

    assert Job.objects.count() == 0


def test_a_kind_no_app_registered_cannot_start(channel: Channel) -> None:
    with pytest.raises(LookupError, match="No handler is registered for job kind 'bulk'"):
        job_start(channel=channel, kind="bulk", params={}, requested_by=None)

    assert Job.objects.count() == 0


def test_cancelling_a_queued_job_ends_it_at_once(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=3)

    cancelled = job_cancel(job=job, viewer=owner(channel))

    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == ("cancelled", True)
    assert job.finished_at is not None and cancelled.state == "cancelled"


def test_cancelling_a_running_job_asks_its_runner_to_stop_between_batches(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=3)
    Job.objects.filter(pk=job.pk).update(state="running", run_token=uuid.uuid4())

    job_cancel(job=job, viewer=owner(channel))

    job.refresh_from_db()
    assert (job.state, job.cancel_requested, job.finished_at) == ("running", True, None)


@pytest.mark.parametrize(
    ("state", "words"),
    [("succeeded", "succeeded"), ("failed", "failed"), ("cancelled", "been cancelled")],
)
def test_cancelling_a_finished_job_is_a_conflict_and_changes_nothing(
    channel: Channel, counting: None, state: str, words: str
) -> None:
    job = counting_job(channel, items=3)
    Job.objects.filter(pk=job.pk).update(state=state, finished_at=Now())
    job.refresh_from_db()
    before = Job.objects.filter(pk=job.pk).values().get()

    with pytest.raises(Conflict) as refused:
        job_cancel(job=job, viewer=owner(channel))

    assert refused.value.message == (
        f"The job has already {words}: only a queued or running job can be cancelled."
    )
    assert Job.objects.filter(pk=job.pk).values().get() == before


def test_cancelling_needs_the_permission_of_the_kind_and_changes_nothing_without(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=3)
    before = Job.objects.filter(pk=job.pk).values().get()

    with pytest.raises(PermissionDenied, match="lacks the general_settings permission"):
        job_cancel(job=job, viewer=basic(channel))

    assert Job.objects.filter(pk=job.pk).values().get() == before


def test_only_a_failed_or_cancelled_job_is_resumed(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=3)
    before = Job.objects.filter(pk=job.pk).values().get()

    with pytest.raises(Conflict, match="Only a failed or cancelled job can be resumed; this one"):
        job_resume(job=job, viewer=owner(channel))

    assert Job.objects.filter(pk=job.pk).values().get() == before


def test_resuming_a_cancelled_job_queues_it_again(
    channel: Channel, counting: None, django_capture_on_commit_callbacks: Any
) -> None:
    job = counting_job(channel, items=3)
    job_cancel(job=job, viewer=owner(channel))

    with django_capture_on_commit_callbacks() as queued:
        resumed = job_resume(job=job, viewer=owner(channel))

    assert (resumed.state, resumed.cancel_requested, resumed.finished_at) == ("queued", False, None)
    assert len(queued) == 1


def _silent(job: Job, state: str, seconds: float, **fields: Any) -> None:
    token = uuid.uuid4() if state == JobState.RUNNING else None
    Job.objects.filter(pk=job.pk).update(
        state=state,
        run_token=token,
        heartbeat_at=timezone.now() - timedelta(seconds=seconds),
        **fields,
    )


def test_a_running_job_silent_for_the_timeout_is_queued_again(
    channel: Channel, counting: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOB_HEARTBEAT_TIMEOUT_S = 60
    dead = counting_job(channel, items=9)
    alive = counting_job(channel, items=9)
    dead_task = DBTaskResult.objects.create(
        args_kwargs={"args": [dead.pk], "kwargs": {}},
        task_path="crm.jobs.runner.job_run",
        backend_name="default",
        run_after=timezone.now(),
        status=TaskResultStatus.RUNNING,
    )
    _silent(dead, "running", 61, position=4, done=4, task_id=str(dead_task.id))
    _silent(alive, "running", 5)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_requeue_stale() == [dead.pk]

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.state, dead.run_token, dead.position, dead.done) == ("queued", None, 4, 4)
    assert alive.state == "running"
    dead_task.refresh_from_db()
    assert (dead_task.status, dead_task.exception_class_path) == (
        "FAILED",
        "crm.jobs.runner.WorkerLost",
    )
    assert dead.task_id != str(dead_task.id)  # its new run
    assert DBTaskResult.objects.get(id=dead.task_id).status == "READY"


def test_a_queued_job_whose_task_still_waits_is_left_to_wait(
    channel: Channel, counting: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = counting_job(channel, items=3)
    _silent(job, "queued", 600)

    assert jobs_requeue_stale() == []


def test_a_queued_job_whose_task_was_lost_is_queued_again(
    channel: Channel, counting: None, django_capture_on_commit_callbacks: Any
) -> None:
    job = counting_job(channel, items=3)  # its transaction never committed: no task
    _silent(job, "queued", 600)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_requeue_stale() == [job.pk]

    job.refresh_from_db()
    assert job.state == "queued"
    assert DBTaskResult.objects.get(id=job.task_id).status == "READY"


def test_a_dead_job_is_queued_again_behind_a_full_page_of_waiting_jobs(
    channel: Channel, counting: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOB_HEARTBEAT_TIMEOUT_S = 60
    with django_capture_on_commit_callbacks(execute=True):
        waiting = [counting_job(channel, items=1) for _ in range(100)]
    for job in waiting:
        _silent(job, "queued", 600)  # silent longer than the dead one: first by heartbeat
    dead = counting_job(channel, items=3)
    _silent(dead, "running", 61)
    ours = Job.objects.filter(pk__in=[j.pk for j in waiting])
    tasks = dict(ours.values_list("pk", "task_id"))
    assert DBTaskResult.objects.filter(id__in=tasks.values(), status="READY").count() == 100

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_requeue_stale(limit=100) == [dead.pk]

    dead.refresh_from_db()
    assert (dead.state, dead.run_token) == ("queued", None)
    assert DBTaskResult.objects.get(id=dead.task_id).status == "READY"
    assert {pk: ("queued", task) for pk, task in tasks.items()} == {
        pk: (state, task) for pk, state, task in ours.values_list("pk", "state", "task_id")
    }  # left to wait, their tasks untouched


def test_the_refusal_of_a_change_names_the_job_in_the_way(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)

    refusal = job_in_the_way(job=job, subject="The tag vip", key="name")

    message = (
        f"The tag vip is busy with job {job.pk} (export, queued): try again once it has "
        "finished, or cancel it."
    )
    assert refusal.message == message
    assert [(p.key, p.code, p.message) for p in refusal.problems] == [
        ("name", "job_running", message)
    ]
