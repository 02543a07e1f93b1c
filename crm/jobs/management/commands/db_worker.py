"""`manage.py db_worker`: django-tasks-db's worker, which also keeps the periodic task's chain
whole (a run pending as it starts, and a check every interval while it runs) and hands a running
job back to the queue when asked to stop."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from crm.jobs.periodic import periodic_ensure, periodic_watch_start
from crm.jobs.runner import hand_back_on_signal


class Command(DatabaseWorkerCommand):
    help = (
        "Run a background worker: jobs and the periodic task. SIGTERM or Ctrl-C: a running job"
        " stops after its batch and goes back to the queue; the worker then exits."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        hand_back_on_signal()
        periodic_ensure()
        # django-tasks-db's loop has no hook of its own when idle (it only sleeps), so a thread
        # checks the chain: a run whose worker died before queueing the next is replaced once
        # it has been running for the heartbeat timeout.
        periodic_watch_start(every_s=settings.JOBS_PERIODIC_INTERVAL_S)
        super().handle(*args, **options)
