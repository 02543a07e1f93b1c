"""A job kind for the tests: it counts items in batches, writing one row per item into a
table of its own, so a test sees what was done, and that nothing was done twice."""

from __future__ import annotations

import os
import time
from typing import Any

from django.db import connection
from django_tasks import task

from crm.jobs.kinds import BatchResult, JobHandler
from crm.jobs.models import Job

MARKS = "jobs_test_mark"
FINISH_ITEM = -1  # the row finish() writes


def marks_table_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKS} (job_id bigint, item int, pid int, at timestamptz"
            " DEFAULT clock_timestamp())"
        )


def marks_table_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {MARKS}")


def marks(job: Job) -> list[int]:
    """The items done for JOB, in the order they were written (repeats would show)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT item FROM {MARKS} WHERE job_id = %s ORDER BY at, item", [job.pk])  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


def mark_pids(job: Job) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT pid FROM {MARKS} WHERE job_id = %s", [job.pk])  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


class Counting(JobHandler):
    """params: items, perBatch (default 2), sleep (seconds per batch), failAt (an item whose
    batch raises), skipOdd (odd items are skipped with code "odd"), noTotal."""

    def total(self, job: Job) -> int | None:
        return None if job.params.get("noTotal") else int(job.params["items"])

    def batch(self, job: Job, position: Any) -> BatchResult:
        start = int(position or 0)
        end = min(start + int(job.params.get("perBatch", 2)), int(job.params["items"]))
        time.sleep(float(job.params.get("sleep", 0)))
        done = [item for item in range(start, end) if not (job.params.get("skipOdd") and item % 2)]
        with connection.cursor() as cursor:
            for item in done:
                if item == job.params.get("failAt"):
                    raise RuntimeError(f"item {item} cannot be counted")
                cursor.execute(
                    f"INSERT INTO {MARKS} (job_id, item, pid) VALUES (%s, %s, %s)",  # noqa: S608
                    [job.pk, item, os.getpid()],
                )
        skipped = (end - start) - len(done)
        return BatchResult(
            position=end,
            done=len(done),
            skipped={"odd": skipped} if skipped else {},
            finished=end >= int(job.params["items"]),
        )

    def finish(self, job: Job) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {MARKS} (job_id, item, pid) VALUES (%s, %s, %s)",  # noqa: S608
                [job.pk, FINISH_ITEM, os.getpid()],
            )


@task()
def tally() -> str:
    """A task of no arguments for the queue's tests: it writes a mark of job 0 when it runs."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {MARKS} (job_id, item, pid) VALUES (0, 0, %s)", [os.getpid()])  # noqa: S608
    return "tallied"
