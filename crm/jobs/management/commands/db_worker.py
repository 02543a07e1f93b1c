"""`manage.py db_worker`: django-tasks-db's worker, which also makes sure the periodic task has
a run pending and hands a running job back to the queue when asked to stop."""

from __future__ import annotations

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from crm.jobs.periodic import periodic_ensure
from crm.jobs.runner import hand_back_on_signal


class Command(DatabaseWorkerCommand):
    help = (
        "Run a background worker: jobs and the periodic task. SIGTERM or Ctrl-C: a running job"
        " stops after its batch and goes back to the queue; the worker then exits."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        hand_back_on_signal()
        periodic_ensure()
        super().handle(*args, **options)
