"""The task queue as the job framework sees it: whether tasks wait in the database, and the
queue's rows of tasks whose worker died."""

from __future__ import annotations

import uuid

from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, TaskResultStatus, task_backends
from django_tasks_db import DatabaseBackend


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
