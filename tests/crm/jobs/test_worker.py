"""Jobs run by real worker processes (`manage.py db_worker` against the test database, tasks in
the database queue): a killed worker's job is finished by another from its last committed batch,
a stopped worker hands its job back, two workers never run one job at once, and a worker mends
the periodic task's chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from crm.jobs.models import Job, PeriodicSchedule
from crm.jobs.periodic import SCHEDULE
from crm.jobs.runner import job_enqueue_on_commit
from crm.models import Channel
from tests.api_clients import credential_client as api
from tests.crm.jobs.conftest import counting_job
from tests.crm.jobs.kinds import FINISH_ITEM, mark_pids, marks

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[3]
# Short enough for a test: a job silent for 2 s is queued again by the periodic task.
WORKER_SETTINGS = {
    "JOB_HEARTBEAT_TIMEOUT_S": "2",
    "JOB_HEARTBEAT_INTERVAL_S": "0.3",
    "JOBS_PERIODIC_INTERVAL_S": "0.5",
}


def database_url_of_the_test() -> str:
    """The database the test runs on (pytest-django's test database), as a URL."""
    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD'] or ''}"
    host = db["HOST"] or "localhost"
    if host.startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={host}"
    return f"postgresql://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def worker(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`manage.py db_worker` with the test kind's app, killed at the end if still running."""
    env = {
        **os.environ,
        **WORKER_SETTINGS,
        "DATABASE_URL": database_url_of_the_test(),
        "DJANGO_SETTINGS_MODULE": "tests.crm.jobs.worker_settings",
        "DEBUG": "1",
    }
    command = ["manage.py", "db_worker", "--no-reload", "--interval", "0.1", "--no-startup-delay"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own entry point
            [sys.executable, *command], cwd=ROOT, env=env, stdout=output, stderr=output
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_until(check: Callable[[], bool], seconds: float, *logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            output = "\n".join(log.read_text() for log in logs)
            raise AssertionError(f"not within {seconds} s; workers said:\n{output}")
        time.sleep(0.05)


def fresh(job: Job) -> Job:
    job.refresh_from_db()
    return job


def started(*logs: Path) -> bool:
    return all("Starting worker" in log.read_text() for log in logs)


@contextmanager
def two_workers(tmp_path: Path) -> Iterator[tuple[list[subprocess.Popen[bytes]], list[Path]]]:
    """Two workers of a pool, both started and waiting for work."""
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with worker(logs[0]) as first, worker(logs[1]) as second:
        wait_until(lambda: started(*logs), 60, *logs)
        yield [first, second], logs


def holder_and_other(
    job: Job, workers: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """The worker running JOB (the one whose batches wrote its marks), and the other one."""
    [pid] = mark_pids(job)
    first, second = workers
    return (first, second) if first.pid == pid else (second, first)


def test_a_killed_workers_job_is_finished_by_another_from_its_last_batch(
    channel: Channel, counting_committed: None, tmp_path: Path
) -> None:
    with two_workers(tmp_path) as (workers, logs):
        job = counting_job(channel, items=6, perBatch=1, sleep=0.25)
        wait_until(lambda: fresh(job).done >= 2, 60, *logs)
        holder, other = holder_and_other(job, workers)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = Job.objects.get(pk=job.pk)
        assert killed.state == "running"  # the queue alone would leave it so for ever
        assert marks(job) == list(range(killed.done))  # its batch in flight rolled back
        wait_until(lambda: fresh(job).state == "succeeded", 60, *logs)

    assert marks(job) == [*range(6), FINISH_ITEM]  # each item once
    assert mark_pids(job) == {holder.pid, other.pid}
    assert (job.done, job.total, job.attempts, job.error) == (6, 6, 2, None)
    assert DBTaskResult.objects.get(id=killed.task_id).status == "FAILED"  # not running
    body = api(channel).get(f"/open/v5/jobs/{job.pk}").json()["job"]
    assert (body["state"], body["done"], body["total"]) == ("succeeded", 6, 6)


def test_a_stopped_worker_hands_its_job_back_after_its_batch(
    channel: Channel, counting_committed: None, tmp_path: Path
) -> None:
    with two_workers(tmp_path) as (workers, logs):
        job = counting_job(channel, items=6, perBatch=1, sleep=0.25)
        wait_until(lambda: fresh(job).done >= 2, 60, *logs)
        holder, other = holder_and_other(job, workers)
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=10) == 0  # after its batch, not after the whole job
        wait_until(lambda: fresh(job).state == "succeeded", 60, *logs)

    assert marks(job) == [*range(6), FINISH_ITEM]
    assert mark_pids(job) == {holder.pid, other.pid}
    assert (job.done, job.attempts) == (6, 2)
    assert "went silent" not in "".join(log.read_text() for log in logs)  # handed back


def test_two_workers_never_run_one_job_at_once(
    channel: Channel, counting_committed: None, tmp_path: Path
) -> None:
    with two_workers(tmp_path) as (_, logs):
        job = counting_job(channel, items=4, perBatch=1, sleep=0.3)
        job_enqueue_on_commit(job_id=job.pk)  # a second task for the same job
        wait_until(lambda: fresh(job).state == "succeeded", 60, *logs)
        runs = DBTaskResult.objects.filter(task_path="crm.jobs.runner.job_run")
        wait_until(lambda: not runs.exclude(status="SUCCESSFUL").exists(), 30, *logs)

    outcomes: list[Any] = sorted(runs.values_list("return_value", flat=True))
    assert outcomes == ["not claimed", "succeeded"]
    assert marks(job) == [*range(4), FINISH_ITEM]
    assert (job.done, job.attempts) == (4, 1)


def test_a_worker_replaces_a_periodic_run_whose_worker_died_just_before_it_started(
    tmp_path: Path,
) -> None:
    # The schedule names a run a dead worker took a moment ago, before it queued the next one:
    # as the worker starts, that run still looks alive (it has run for less than the timeout).
    dead = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="crm.jobs.periodic.periodic_run",
        backend_name="default",
        run_after=timezone.now(),
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now(),
    )
    PeriodicSchedule.objects.create(name=SCHEDULE, task_id=str(dead.id))
    log = tmp_path / "worker.log"
    schedule = PeriodicSchedule.objects.filter(pk=SCHEDULE)
    warning = "The periodic task had no run pending; one was queued."

    def mended() -> bool:
        # The new run's hooks ran (they follow its first commit), and the check that queued it
        # has said so (the run may start before it logs).
        return "jobs.requeue_stale" in schedule.get().hooks_ran_at and warning in log.read_text()

    with worker(log):
        wait_until(mended, 60, log)

    dead.refresh_from_db()
    assert (dead.status, dead.exception_class_path) == ("FAILED", "crm.jobs.runner.WorkerLost")
    assert schedule.get().task_id != str(dead.id)
    assert schedule.get().ran_at is not None
