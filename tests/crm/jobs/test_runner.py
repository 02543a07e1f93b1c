"""The runner: batch after batch with progress committed, the last step, failure and resume,
cancel between batches, one runner at a time, the heartbeat, and a worker's shutdown."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

from crm.errors import InvalidInput, Problem
from crm.jobs import runner
from crm.jobs.kinds import BatchResult, JobHandler, job_kind_swapped
from crm.jobs.models import Job, JobKind
from crm.jobs.runner import job_execute
from crm.jobs.services import job_resume, job_start
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Permission, Viewer
from tests.crm.jobs.conftest import COUNTING, counting_job
from tests.crm.jobs.kinds import FINISH_ITEM, Counting, marks


def run(job: Job) -> str:
    outcome = job_execute(job_id=job.pk)
    job.refresh_from_db()
    return outcome


def owner(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


@pytest.mark.django_db
def test_a_job_runs_batch_after_batch_then_its_last_step(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=5, perBatch=2, skipOdd=True)

    assert run(job) == "succeeded"

    assert (job.state, job.done, job.skipped, job.skipped_reasons, job.total) == (
        "succeeded",
        3,
        2,
        {"odd": 2},
        5,
    )
    assert (job.position, job.batches_done, job.error, job.attempts, job.run_token) == (
        5,
        True,
        None,
        1,
        None,
    )
    assert job.started_at is not None and job.finished_at is not None
    assert marks(job) == [0, 2, 4, FINISH_ITEM]


@pytest.mark.django_db
def test_a_job_started_with_its_total_keeps_it(channel: Channel, counting: None) -> None:
    job = job_start(
        channel=channel, kind=COUNTING, params={"items": 3}, requested_by=None, total=30
    )

    run(job)

    assert (job.total, job.done) == (30, 3)


@pytest.mark.django_db
def test_a_failed_batch_leaves_the_job_at_its_last_committed_batch_and_resume_goes_on(
    channel: Channel, counting: None, django_capture_on_commit_callbacks: Any
) -> None:
    job = counting_job(channel, items=6, perBatch=2, failAt=3)

    assert run(job) == "failed"

    assert (job.state, job.position, job.done, job.run_token) == ("failed", 2, 2, None)
    assert job.error == {
        "type": "service_unavailable",
        "message": "The job stopped on an unexpected error (RuntimeError); it can be resumed"
        " from its last batch.",
        "errors": [],
    }
    assert marks(job) == [0, 1]  # the failed batch's item 2 was rolled back with it

    Job.objects.filter(pk=job.pk).update(params={"items": 6, "perBatch": 2})  # cause fixed
    with django_capture_on_commit_callbacks() as queued:
        job_resume(job=job, viewer=owner(channel))
    assert (len(queued), job.state, job.error, job.finished_at) == (1, "queued", None, None)

    assert run(job) == "succeeded"
    assert marks(job) == [0, 1, 2, 3, 4, 5, FINISH_ITEM]
    assert (job.done, job.attempts) == (6, 2)


class Refusing(JobHandler):
    def batch(self, job: Job, position: Any) -> BatchResult:
        raise InvalidInput([Problem("params.tag", "invalid", "params.tag: no such tag.")])


@pytest.mark.django_db
def test_a_refusal_is_recorded_in_the_api_error_shape(channel: Channel) -> None:
    with job_kind_swapped(
        kind=JobKind.EXPORT, handler=Refusing(), permission=Permission.CONTACTS_EXPORT
    ):
        job = job_start(channel=channel, kind=JobKind.EXPORT, params={}, requested_by=None)
        assert run(job) == "failed"

    assert job.error == {
        "type": "validation_error",
        "message": "params.tag: no such tag.",
        "errors": [{"key": "params.tag", "code": "invalid", "message": "params.tag: no such tag."}],
    }


class CancelledDuring(Counting):
    """Someone cancels while the batch from position 2 runs."""

    def batch(self, job: Job, position: Any) -> BatchResult:
        if position == 2:
            Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        return super().batch(job, position)


@pytest.mark.django_db
def test_a_cancel_stops_the_job_after_the_batch_that_runs(channel: Channel, counting: None) -> None:
    with job_kind_swapped(
        kind=COUNTING, handler=CancelledDuring(), permission=Permission.GENERAL_SETTINGS
    ):
        job = counting_job(channel, items=8, perBatch=2)
        assert run(job) == "cancelled"

    assert (job.state, job.position, job.done, job.run_token) == ("cancelled", 4, 4, None)
    assert job.finished_at is not None
    assert marks(job) == [0, 1, 2, 3]  # no last step


@pytest.mark.django_db
def test_a_job_another_runner_holds_is_left_alone(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=4)
    holder = uuid.uuid4()
    Job.objects.filter(pk=job.pk).update(state="running", run_token=holder, heartbeat_at=Now())

    assert run(job) == "not claimed"

    assert (job.state, job.run_token, job.done, job.attempts) == ("running", holder, 0, 0)
    assert marks(job) == []


@pytest.mark.django_db
def test_a_finished_job_is_not_run_again(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)
    run(job)

    assert run(job) == "not claimed"

    assert (job.state, job.attempts) == ("succeeded", 1)
    assert marks(job) == [0, 1, FINISH_ITEM]


@pytest.mark.django_db
def test_a_running_job_silent_past_the_timeout_is_taken_over(
    channel: Channel, counting: None, settings: Any
) -> None:
    settings.JOB_HEARTBEAT_TIMEOUT_S = 60
    job = counting_job(channel, items=4, perBatch=2)
    silent = timezone.now() - timedelta(seconds=61)
    Job.objects.filter(pk=job.pk).update(
        state="running", run_token=uuid.uuid4(), heartbeat_at=silent, position=2, done=2
    )

    assert run(job) == "succeeded"

    assert (job.done, job.attempts) == (4, 1)
    assert marks(job) == [2, 3, FINISH_ITEM]  # from its last committed batch


def _in_another_connection(work: Any) -> None:
    def target() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()


class TakenOverDuring(Counting):
    """While the batch from position 2 runs, the job goes to another runner (committed)."""

    def batch(self, job: Job, position: Any) -> BatchResult:
        if position == 2:
            _in_another_connection(
                lambda: Job.objects.filter(pk=job.pk).update(run_token=uuid.uuid4())
            )
        return super().batch(job, position)


@pytest.mark.django_db(transaction=True)
def test_a_runner_that_lost_its_job_commits_nothing_more(
    channel: Channel, marks_committed: None
) -> None:
    with job_kind_swapped(
        kind=COUNTING, handler=TakenOverDuring(), permission=Permission.GENERAL_SETTINGS
    ):
        job = counting_job(channel, items=6, perBatch=2)
        assert run(job) == "claim lost"

    assert (job.state, job.position, job.done) == ("running", 2, 2)
    assert marks(job) == [0, 1]  # the batch that ran when the job was taken over rolled back


@pytest.mark.django_db(transaction=True)
def test_a_kind_that_is_not_atomic_keeps_the_batch_its_lost_runner_did(
    channel: Channel, marks_committed: None
) -> None:
    with job_kind_swapped(
        kind=COUNTING,
        handler=TakenOverDuring(),
        permission=Permission.GENERAL_SETTINGS,
        atomic=False,
    ):
        job = counting_job(channel, items=6, perBatch=2)
        assert run(job) == "claim lost"

    assert (job.state, job.position, job.done) == ("running", 2, 2)
    # Its work committed before the claim was checked: such a kind guards its work itself.
    assert marks(job) == [0, 1, 2, 3]


class Slow(JobHandler):
    """One batch that outlasts several heartbeat intervals; it notes the heartbeats it saw."""

    seen: list[Any]

    def __init__(self) -> None:
        self.seen = []

    def batch(self, job: Job, position: Any) -> BatchResult:
        for _ in range(2):
            self.seen.append(Job.objects.values_list("heartbeat_at", flat=True).get(pk=job.pk))
            time.sleep(0.5)
        return BatchResult(position=1, done=1, finished=True)


@pytest.mark.django_db(transaction=True)
def test_a_long_batch_keeps_the_heartbeat_going(channel: Channel, settings: Any) -> None:
    settings.JOB_HEARTBEAT_INTERVAL_S = 0.1
    slow = Slow()
    with job_kind_swapped(
        kind=JobKind.INDEX_BUILD, handler=slow, permission=Permission.GENERAL_SETTINGS
    ):
        job = job_start(channel=channel, kind=JobKind.INDEX_BUILD, params={}, requested_by=None)
        assert run(job) == "succeeded"

    first, second = slow.seen
    assert second > first  # written by the heartbeat thread while the batch ran
    assert job.heartbeat_at is not None and job.heartbeat_at >= second


class IndexBuild(JobHandler):
    """Work that cannot run in a transaction, in one batch, with no total: an index build."""

    def batch(self, job: Job, position: Any) -> BatchResult:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE INDEX CONCURRENTLY jobs_test_mark_item_idx ON jobs_test_mark (item)"
            )
        return BatchResult(position={"built": True}, done=1, finished=True)


@pytest.mark.django_db(transaction=True)
def test_a_kind_that_is_not_atomic_runs_its_batch_outside_a_transaction(
    channel: Channel, marks_committed: None, tasks_immediate: None
) -> None:
    with job_kind_swapped(
        kind=JobKind.INDEX_BUILD,
        handler=IndexBuild(),
        permission=Permission.GENERAL_SETTINGS,
        atomic=False,
    ):
        job = job_start(channel=channel, kind=JobKind.INDEX_BUILD, params={}, requested_by=None)

    job.refresh_from_db()
    assert (job.state, job.total, job.done, job.position, job.error) == (
        "succeeded",
        None,
        1,
        {"built": True},
        None,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'jobs_test_mark_item_idx'")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_a_worker_asked_to_stop_hands_its_job_back_after_the_batch(
    channel: Channel, counting: None, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setattr(runner._Process, "hand_back_on_signal", True)
    before = signal.getsignal(signal.SIGTERM)

    class StoppedDuring(Counting):
        def batch(self, job: Job, position: Any) -> BatchResult:
            if position == 2:
                signal.raise_signal(signal.SIGTERM)
            return super().batch(job, position)

    with job_kind_swapped(
        kind=COUNTING, handler=StoppedDuring(), permission=Permission.GENERAL_SETTINGS
    ):
        job = counting_job(channel, items=8, perBatch=2)
        with django_capture_on_commit_callbacks() as queued:
            assert run(job) == "handed back"

    assert (job.state, job.position, job.done, job.run_token) == ("queued", 4, 4, None)
    assert job.finished_at is None
    assert len(queued) == 1  # its next run, for another worker
    assert marks(job) == [0, 1, 2, 3]
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.django_db
def test_what_the_last_step_did_is_added_to_done(channel: Channel, counting: None) -> None:
    class Sweeping(Counting):
        def finish(self, job: Job) -> int:
            super().finish(job)
            return 3  # items written while the batches ran, swept up at the end

    with job_kind_swapped(
        kind=COUNTING, handler=Sweeping(), permission=Permission.GENERAL_SETTINGS
    ):
        job = counting_job(channel, items=4)
        assert run(job) == "succeeded"

    assert (job.state, job.done, job.total) == ("succeeded", 7, 4)
    assert marks(job) == [0, 1, 2, 3, FINISH_ITEM]
