"""A task queued once at a time: requests while its run waits make no other run; a request
while it runs queues the next; with tasks run at once, each request runs it."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from crm.jobs.models import PeriodicSchedule
from crm.jobs.queue import task_enqueue_once
from tests.crm.jobs.kinds import marks_table_create, tally

TALLY = "tests.crm.jobs.kinds.tally"
pytestmark = pytest.mark.django_db


def runs() -> list[str]:
    queued = DBTaskResult.objects.filter(task_path=TALLY).order_by("enqueued_at")
    return list(queued.values_list("status", flat=True))


def test_requests_while_a_run_waits_queue_no_other() -> None:
    assert task_enqueue_once(name="tally", task=tally) is True
    assert task_enqueue_once(name="tally", task=tally) is False

    [waiting] = DBTaskResult.objects.filter(task_path=TALLY)
    assert runs() == ["READY"]
    assert PeriodicSchedule.objects.get(pk="tally").task_id == str(waiting.id)


def test_a_request_while_the_run_runs_or_after_it_queues_the_next() -> None:
    task_enqueue_once(name="tally", task=tally)
    DBTaskResult.objects.filter(task_path=TALLY).update(status="RUNNING")

    assert task_enqueue_once(name="tally", task=tally) is True
    DBTaskResult.objects.filter(task_path=TALLY, status="READY").update(status="SUCCESSFUL")
    assert task_enqueue_once(name="tally", task=tally) is True

    assert runs() == ["RUNNING", "SUCCESSFUL", "READY"]


def test_names_keep_their_runs_apart() -> None:
    assert task_enqueue_once(name="tally", task=tally) is True
    assert task_enqueue_once(name="tally again", task=tally) is True

    assert runs() == ["READY", "READY"]


def test_with_tasks_run_at_once_each_request_runs_it(tasks_immediate: None) -> None:
    marks_table_create()

    assert task_enqueue_once(name="tally", task=tally) is True
    assert task_enqueue_once(name="tally", task=tally) is True

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM jobs_test_mark WHERE job_id = 0")
        assert cursor.fetchone() == (2,)
    assert not PeriodicSchedule.objects.exists()
