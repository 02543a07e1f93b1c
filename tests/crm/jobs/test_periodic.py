"""The periodic task: one run pending at a time, each run queueing the next, and its hooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from crm.jobs import periodic as periodic_module
from crm.jobs.models import PeriodicSchedule
from crm.jobs.periodic import (
    SCHEDULE,
    periodic_ensure,
    periodic_hook_register,
    periodic_hooks_run,
    periodic_tick,
    periodic_watch,
    rate_limit_windows_purge,
    task_results_prune,
)
from crm.ratelimit import Limit, rate_limit_hit

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooks(monkeypatch: Any) -> Iterator[list[str]]:
    """Only the hooks a test registers, each noting its runs in the list."""
    monkeypatch.setattr(periodic_module, "_hooks", {})
    yield []


def periodic_tasks() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path="crm.jobs.periodic.periodic_run"))


def pending_id() -> str:
    return PeriodicSchedule.objects.get(pk=SCHEDULE).task_id


def test_a_worker_queues_the_periodic_task_once_whatever_the_number_of_workers(
    hooks: list[str],
) -> None:
    assert periodic_ensure() is True
    assert periodic_ensure() is False  # a second worker starting finds it pending

    [task] = periodic_tasks()
    assert (task.status, str(task.id)) == ("READY", pending_id())
    assert task.run_after <= timezone.now()


def test_a_run_queues_the_next_one_interval_later_then_runs_the_hooks(
    hooks: list[str], settings: Any
) -> None:
    settings.JOBS_PERIODIC_INTERVAL_S = 60
    periodic_hook_register(name="note", run=lambda: hooks.append("ran"))
    periodic_ensure()
    first = pending_id()

    assert periodic_tick(task_id=first) == "ran note"

    assert hooks == ["ran"]
    following = DBTaskResult.objects.get(id=pending_id())
    assert str(following.id) != first
    wait = following.run_after - timezone.now()
    assert timedelta(seconds=58) < wait <= timedelta(seconds=60)


def test_a_run_that_is_not_the_pending_one_does_nothing(hooks: list[str]) -> None:
    periodic_hook_register(name="note", run=lambda: hooks.append("ran"))
    periodic_ensure()
    pending = pending_id()

    assert periodic_tick(task_id="7e0f6a57-0000-4000-8000-000000000000") == "superseded"

    assert (hooks, pending_id(), len(periodic_tasks())) == ([], pending, 1)


def test_a_pending_run_whose_worker_died_is_replaced(hooks: list[str], settings: Any) -> None:
    settings.JOB_HEARTBEAT_TIMEOUT_S = 60
    periodic_ensure()
    dead = pending_id()
    DBTaskResult.objects.filter(id=dead).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - timedelta(seconds=61)
    )

    assert periodic_ensure() is True

    assert pending_id() != dead
    assert DBTaskResult.objects.get(id=dead).status == "FAILED"


def test_a_pending_run_a_worker_just_took_is_left_to_it(hooks: list[str]) -> None:
    periodic_ensure()
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING, started_at=timezone.now())

    assert periodic_ensure() is False


def wait_until(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_chain_with_no_pending_run_is_repaired_by_a_workers_watch(hooks: list[str]) -> None:
    periodic_ensure()
    ended = pending_id()
    # The run finished without queueing its successor (its first transaction failed).
    DBTaskResult.objects.filter(id=ended).update(status=TaskResultStatus.SUCCESSFUL)
    stop = threading.Event()
    watch = threading.Thread(target=periodic_watch, kwargs={"every_s": 0.05, "stop": stop})

    watch.start()
    try:
        wait_until(lambda: pending_id() != ended)
    finally:
        stop.set()
        watch.join()

    [queued] = [task for task in periodic_tasks() if str(task.id) != ended]
    assert (str(queued.id), queued.status) == (pending_id(), "READY")
    assert periodic_ensure() is False  # pending again: one run, not one per check


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_run_each_due_hook_once_and_keep_both_times(
    hooks: list[str],
) -> None:
    inside, release = threading.Event(), threading.Event()

    def slow() -> None:
        hooks.append("slow")
        if not inside.is_set():  # the first run waits; a second one (a double run) does not
            inside.set()
            assert release.wait(30)

    periodic_hook_register(name="slow", run=slow, every=timedelta(hours=1))
    periodic_hook_register(
        name="hourly", run=lambda: hooks.append("hourly"), every=timedelta(hours=1)
    )
    first: list[list[str]] = []

    def first_tick() -> None:
        try:
            first.append(periodic_hooks_run())
        finally:
            connection.close()  # this thread's own

    tick = threading.Thread(target=first_tick)
    tick.start()
    try:
        assert inside.wait(30)
        second = periodic_hooks_run()  # while the first tick is still in `slow`
    finally:
        release.set()
        tick.join()

    assert (first, second, hooks) == ([["slow"]], ["hourly"], ["slow", "hourly"])
    ran_at = PeriodicSchedule.objects.get(pk=SCHEDULE).hooks_ran_at
    assert sorted(ran_at) == ["hourly", "slow"]
    # Each hook keeps the time of the tick that ran it: the second tick's is the later one.
    assert datetime.fromisoformat(ran_at["slow"]) < datetime.fromisoformat(ran_at["hourly"])


def test_with_tasks_run_at_once_there_is_no_periodic_chain(
    hooks: list[str], tasks_immediate: None
) -> None:
    assert periodic_ensure() is False
    assert not PeriodicSchedule.objects.exists()


def test_a_hook_runs_at_most_once_per_its_period(hooks: list[str]) -> None:
    periodic_hook_register(
        name="hourly", run=lambda: hooks.append("hourly"), every=timedelta(hours=1)
    )
    periodic_hook_register(name="always", run=lambda: hooks.append("always"))

    assert periodic_hooks_run() == ["hourly", "always"]
    assert periodic_hooks_run() == ["always"]

    assert hooks == ["hourly", "always", "always"]


def test_a_failing_hook_does_not_stop_the_others(hooks: list[str]) -> None:
    def broken() -> None:
        raise RuntimeError("broken")

    periodic_hook_register(name="broken", run=broken)
    periodic_hook_register(name="note", run=lambda: hooks.append("ran"))

    assert periodic_hooks_run() == ["broken", "note"]
    assert hooks == ["ran"]


def test_the_framework_registers_its_own_hooks() -> None:
    assert {"jobs.requeue_stale", "ratelimit.purge", "tasks.prune"} <= set(periodic_module._hooks)


def windows() -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT bucket, hits FROM crm_ratelimitwindow ORDER BY bucket")
        return list(cursor.fetchall())


def test_rate_limit_windows_older_than_twice_the_longest_period_are_purged(settings: Any) -> None:
    settings.API_RATE_LIMIT = "10/60"
    settings.SDK_RATE_LIMIT_PER_KEY = "10/600"
    settings.SDK_RATE_LIMIT_PER_ADDRESS = "10/60"
    now = time.time()
    rate_limit_hit([Limit("old", 10, 60)], now=now - 1300)
    rate_limit_hit([Limit("recent", 10, 60)], now=now - 1100)

    assert rate_limit_windows_purge() == 1

    assert windows() == [("recent", 1)]


def test_finished_task_results_past_their_keep_days_are_pruned(settings: Any) -> None:
    settings.JOBS_TASK_RESULTS_KEEP_DAYS = 14

    def result(status: str, days_ago: float) -> DBTaskResult:
        finished = datetime.now(tz=UTC) - timedelta(days=days_ago)
        return DBTaskResult.objects.create(
            args_kwargs={"args": [], "kwargs": {}},
            task_path="crm.jobs.runner.job_run",
            backend_name="default",
            run_after=finished,
            status=status,
            finished_at=None if status == "READY" else finished,
        )

    old = result("SUCCESSFUL", 15)
    kept = [result("SUCCESSFUL", 13), result("FAILED", 1), result("READY", 30)]

    task_results_prune()

    assert not DBTaskResult.objects.filter(id=old.id).exists()
    assert set(DBTaskResult.objects.values_list("id", flat=True)) == {r.id for r in kept}
