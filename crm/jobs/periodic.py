"""Periodic work: one task that queues its own next run (`run_after`), with exactly one run
pending at a time, named by a single locked row.

Each run queues the next before it works, then runs the hooks that are due: jobs whose worker
went silent are queued again, old rate-limit windows and finished task results are purged, and
the apps add theirs with `periodic_hook_register` (from their `jobs.py`); each hook is claimed
by one UPDATE, so ticks running at once neither run it twice nor lose its time. A worker
(`manage.py db_worker`) queues a run when none is pending as it starts, and checks again every
interval (`periodic_watch`): a run whose worker died before queueing the next one is replaced
once it has run for the heartbeat timeout. Nothing to set up."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import DateTimeField, F, Func, JSONField, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django_tasks import TaskContext, TaskResultStatus, task
from django_tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch

from crm.audit import audit_purge
from crm.jobs.models import PeriodicSchedule
from crm.jobs.queue import database_queue, task_abandon
from crm.jobs.services import jobs_requeue_stale
from crm.ratelimit import limit_parse, rate_limit_purge

logger = logging.getLogger(__name__)
SCHEDULE = "periodic"


@dataclass(frozen=True)
class PeriodicHook:
    name: str
    run: Callable[[], object]
    every: timedelta


_hooks: dict[str, PeriodicHook] = {}


@task(takes_context=True)
def periodic_run(context: TaskContext) -> str:
    """The Django task of the periodic work; it queues its own next run."""
    return periodic_tick(task_id=str(context.task_result.id))


def periodic_hook_register(
    *, name: str, run: Callable[[], object], every: timedelta = timedelta(0)
) -> None:
    """Have the periodic task call RUN at most once per EVERY (zero: on each of its runs)."""
    _hooks[name] = PeriodicHook(name=name, run=run, every=every)


def periodic_builtins_register() -> None:
    """The framework's own periodic work."""
    periodic_hook_register(name="jobs.requeue_stale", run=jobs_requeue_stale)
    periodic_hook_register(
        name="ratelimit.purge", run=rate_limit_windows_purge, every=timedelta(minutes=10)
    )
    periodic_hook_register(name="tasks.prune", run=task_results_prune, every=timedelta(hours=1))
    periodic_hook_register(name="audit.purge", run=audit_purge, every=timedelta(hours=6))


def periodic_ensure() -> bool:
    """Queue a run of the periodic task unless one is pending; whether one was queued."""
    if not periodic_run.get_backend().supports_defer:
        return False  # the immediate backend would run it, and its successor, at once
    with transaction.atomic():
        schedule = _schedule_locked()
        if _pending(schedule.task_id):
            return False
        _queue_next(schedule, delay_s=0)
    return True


def periodic_tick(*, task_id: str) -> str:
    """The periodic task's run TASK_ID: queue the next run, then run the hooks that are due."""
    with transaction.atomic():
        schedule = _schedule_locked()
        if schedule.task_id != task_id:
            return "superseded"  # a stray duplicate: the pending run is another one
        schedule.ran_at = timezone.now()
        _queue_next(schedule, delay_s=settings.JOBS_PERIODIC_INTERVAL_S)
    ran = periodic_hooks_run()
    return f"ran {', '.join(ran)}" if ran else "nothing due"


def periodic_hooks_run() -> list[str]:
    """Run every hook that is due, each on its own: one that fails is logged, not fatal."""
    PeriodicSchedule.objects.bulk_create([PeriodicSchedule(name=SCHEDULE)], ignore_conflicts=True)
    now, ran = timezone.now(), []
    for hook in list(_hooks.values()):
        if not _hook_claim(hook, now):
            continue
        try:
            hook.run()
        except Exception:
            logger.exception("Periodic hook %s failed", hook.name)
        ran.append(hook.name)
    return ran


def periodic_watch(*, every_s: float, stop: threading.Event) -> None:
    """Until STOP is set, every EVERY_S: queue a run of the periodic task when none is pending
    (a worker's thread: a chain whose run died before queueing the next one mends itself)."""
    while not stop.wait(every_s):
        try:
            if periodic_ensure():
                logger.warning("The periodic task had no run pending; one was queued.")
        except Exception:
            logger.exception("The check of the periodic task failed")
        finally:
            connection.close()  # this thread's own connection; a fresh one for the next check


def periodic_watch_start(*, every_s: float) -> threading.Event:
    """Run periodic_watch in a daemon thread of this process; the event that stops it."""
    stop = threading.Event()
    watch = threading.Thread(
        target=periodic_watch, kwargs={"every_s": every_s, "stop": stop}, name="periodic-watch"
    )
    watch.daemon = True
    watch.start()
    return stop


def rate_limit_windows_purge() -> int:
    """Drop the rate-limit windows of buckets nobody hit lately (a hit drops its own bucket's
    old windows): those older than twice the longest configured period."""
    rules = [settings.API_RATE_LIMIT, settings.SDK_RATE_LIMIT_PER_KEY]
    rules.append(settings.SDK_RATE_LIMIT_PER_ADDRESS)
    longest = max(limit_parse("", rule).period for rule in rules)
    return rate_limit_purge(before=time.time() - 2 * longest)


def task_results_prune() -> None:
    """Delete the queue's finished task results older than JOBS_TASK_RESULTS_KEEP_DAYS."""
    if database_queue():
        call_command(
            "prune_db_task_results",
            queue_name="*",
            min_age_days=settings.JOBS_TASK_RESULTS_KEEP_DAYS,
            verbosity=0,
        )


def _schedule_locked() -> PeriodicSchedule:
    PeriodicSchedule.objects.bulk_create([PeriodicSchedule(name=SCHEDULE)], ignore_conflicts=True)
    return PeriodicSchedule.objects.select_for_update().get(pk=SCHEDULE)


def _queue_next(schedule: PeriodicSchedule, *, delay_s: float) -> None:
    # With the database backend the task's row commits with the schedule's, or neither does.
    run_after = timezone.now() + timedelta(seconds=delay_s)
    schedule.task_id = str(periodic_run.using(run_after=run_after).enqueue().id)
    schedule.save()


def _hook_claim(hook: PeriodicHook, now: datetime) -> bool:
    """Record NOW as HOOK's last run if it is due; whether it was (one UPDATE: ticks running
    at once neither run a hook twice nor overwrite each other's times)."""
    last = Cast(KeyTextTransform(hook.name, "hooks_ran_at"), DateTimeField())
    due = ~Q(hooks_ran_at__has_key=hook.name) | Q(LessThanOrEqual(last, now - hook.every))
    ran_at = Func(
        F("hooks_ran_at"),
        Value({hook.name: now.isoformat()}, output_field=JSONField()),
        template="%(expressions)s",
        arg_joiner=" || ",
        output_field=JSONField(),
    )
    return bool(PeriodicSchedule.objects.filter(due, pk=SCHEDULE).update(hooks_ran_at=ran_at))


def _pending(task_id: str) -> bool:
    """Whether run TASK_ID is still to come: waiting, or just taken by a living worker."""
    if not task_id:
        return False
    try:
        result = periodic_run.get_result(task_id)
    except (TaskResultDoesNotExist, TaskResultMismatch):
        return False
    if result.status == TaskResultStatus.READY:
        return True
    # A run queues its successor within a moment of starting; one still running after the
    # heartbeat timeout lost its worker before it could.
    started = result.started_at or timezone.now()
    if result.status == TaskResultStatus.RUNNING:
        if started > timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S):
            return True
        task_abandon(task_id=task_id, reason="The worker stopped before the next run was queued.")
    return False
