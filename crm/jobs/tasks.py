"""The Django tasks of the job framework: a job's run, and the periodic task.

Their bodies import the modules that do the work, so that services and the runner can import
the tasks to queue them."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone
from django_tasks import (
    DEFAULT_TASK_BACKEND_ALIAS,
    TaskContext,
    TaskResultStatus,
    task,
    task_backends,
)
from django_tasks_db import DatabaseBackend

from crm.jobs.models import Job


@task()
def job_run(job_id: int) -> str:
    """Run job JOB_ID from its last committed batch (crm.jobs.runner)."""
    from crm.jobs.runner import job_execute

    return job_execute(job_id=job_id)


@task(takes_context=True)
def periodic(context: TaskContext) -> str:
    """The periodic work (crm.jobs.periodic); it queues its own next run."""
    from crm.jobs.periodic import periodic_tick

    return periodic_tick(task_id=str(context.task_result.id))


def job_enqueue_on_commit(*, job_id: int) -> None:
    """Queue a run of job JOB_ID once the current transaction commits; keep the task's id."""

    def enqueue() -> None:
        result = job_run.enqueue(job_id)
        Job.objects.filter(pk=job_id).update(task_id=str(result.id))

    transaction.on_commit(enqueue)


def task_waiting(*, task_id: str) -> bool:
    """Whether the queue still holds task TASK_ID, not yet taken by a worker."""
    if not database_queue() or not _is_uuid(task_id):
        return False
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.READY).exists()


def task_abandon(*, task_id: str, reason: str) -> None:
    """Mark task TASK_ID failed when the queue still says it runs: its worker died (the
    database backend alone would show it running forever)."""
    if not database_queue() or not _is_uuid(task_id):
        return
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        exception_class_path="crm.jobs.runner.WorkerLost",
        traceback=reason,
    )


def database_queue() -> bool:
    """Whether tasks wait in the database (the immediate backend of some tests keeps none)."""
    return isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
