"""The task queue as the job framework sees it: whether tasks wait in the database, a task queued
at most once while a run of it waits, and the queue's rows of tasks whose worker died."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Case, Exists, OuterRef, UUIDField, When
from django.db.models.functions import Cast
from django.db.models.lookups import Regex
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, TaskResultStatus, task_backends
from django_tasks.base import Task
from django_tasks_db import DatabaseBackend

from crm.jobs.models import PeriodicSchedule

_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def task_waiting(*, task_id: str) -> bool:
    """Whether the queue still holds task TASK_ID, not yet taken by a worker."""
    if not database_queue() or not _is_uuid(task_id):
        return False
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.READY).exists()


def task_waiting_on(*, field: str) -> Exists:
    """Whether the queue still holds the task whose id the outer row's FIELD holds, not yet
    taken by a worker: `task_waiting` as a condition of a query (an id that is no uuid: no)."""
    from django_tasks_db.models import DBTaskResult

    task_id = OuterRef(field)
    # CASE casts only a canonical uuid (the immediate backend's ids are none).
    task_uuid = Case(When(Regex(task_id, _UUID), then=Cast(task_id, UUIDField())))
    return Exists(DBTaskResult.objects.filter(id=task_uuid, status=TaskResultStatus.READY))


def task_enqueue_once(*, name: str, task: Task[[], Any]) -> bool:
    """Queue a run of TASK (which takes no arguments) unless the run last queued under NAME still
    waits for a worker: any number of requests before a worker takes it make one run, and a
    request while it runs queues the next. Whether a run was queued."""
    if not database_queue():
        task.enqueue()  # the immediate backend runs it now
        return True
    with transaction.atomic():
        PeriodicSchedule.objects.bulk_create([PeriodicSchedule(name=name)], ignore_conflicts=True)
        row = PeriodicSchedule.objects.select_for_update().get(pk=name)
        if task_waiting(task_id=row.task_id):
            return False
        # The task's row commits with the schedule's, or neither does.
        row.task_id = str(task.enqueue().id)
        row.save(update_fields=["task_id", "updated_at"])
    return True


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
