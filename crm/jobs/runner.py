"""Runs a job: claim it, then batch after batch, each with its progress committed, then the
last step; cancel, failure and a worker's shutdown stop it between batches.

A claim is a conditional UPDATE (queued, or running with a stale heartbeat) that writes a new
run token; every later write of progress names the token, so a runner that lost the job (it went
silent and the job was queued again) records nothing more. An atomic kind's batch commits with
its progress, so its work rolls back too: two runners never both make progress. A kind that is
not atomic commits a batch's work before the token is checked, so a lost runner's last batch
stays done: such a kind makes its batch safe to run twice and serialises it itself (the index
build holds the index name's advisory lock, profile_schema.ddl.ddl_lock, and reads the field's
flag once it has it)."""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, Now
from django_tasks import task

from crm.errors import Conflict, InvalidInput, PlanRequired
from crm.jobs.kinds import BatchResult, JobKindSpec, job_kind_get
from crm.jobs.models import Job, JobState

logger = logging.getLogger(__name__)


class ClaimLost(Exception):
    """Another runner holds the job now (this one went silent and it was queued again)."""


class _Process:
    """Whether a signal to this process hands a running job back (set by `db_worker`)."""

    hand_back_on_signal = False


def hand_back_on_signal() -> None:
    """In a worker: SIGTERM or Ctrl-C stops a running job after its batch and queues it again
    (for another worker), instead of holding the worker until the whole job ends."""
    _Process.hand_back_on_signal = True


def job_execute(*, job_id: int) -> str:
    """Run job JOB_ID from its last committed batch, if no other runner holds it; the outcome."""
    token = uuid.uuid4()
    if not _claim(job_id, token):
        return "not claimed"
    job = Job.objects.get(pk=job_id)
    try:
        with _Heartbeat(job_id, token), _stop_signal() as stop:
            return _work(job, token, stop)
    except ClaimLost:
        logger.warning("Job %s was taken over by another runner; this one stops.", job_id)
        return "claim lost"
    except Exception as error:
        logger.exception("Job %s (%s) failed", job_id, job.kind)
        _fail(job, token, error)
        return "failed"


def _claim(job_id: int, token: uuid.UUID) -> bool:
    stale = Now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S)
    claimable = Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING, heartbeat_at__lt=stale)
    claimed = Job.objects.filter(claimable, pk=job_id).update(
        state=JobState.RUNNING,
        run_token=token,
        attempts=F("attempts") + 1,
        heartbeat_at=Now(),
        started_at=Coalesce("started_at", Now()),
        updated_at=Now(),
    )
    return claimed == 1


def _mine(job: Job, token: uuid.UUID) -> QuerySet[Job]:
    return Job.objects.filter(pk=job.pk, run_token=token)


def _work(job: Job, token: uuid.UUID, stop: threading.Event) -> str:
    spec = job_kind_get(job.kind)
    if job.total is None and job.position is None and not job.batches_done:
        total = spec.handler.total(job)
        if total is not None:
            _mine(job, token).update(total=total, updated_at=Now())
            job.total = total
    while not job.batches_done:
        stopped = _between_batches(job, token, stop)
        if stopped:
            return stopped
        _batch(job, token, spec)
    return _between_batches(job, token, stop) or _finish(job, token, spec)


def _between_batches(job: Job, token: uuid.UUID, stop: threading.Event) -> str | None:
    """Stop here when a cancel was asked for or the worker is shutting down; None goes on."""
    cancel = _mine(job, token).values_list("cancel_requested", flat=True).first()
    if cancel is None:
        raise ClaimLost
    if cancel:
        _end(job, token, JobState.CANCELLED)
        return "cancelled"
    if stop.is_set():
        _hand_back(job, token)
        return "handed back"
    return None


def _in_transaction(spec: JobKindSpec) -> AbstractContextManager[Any]:
    return transaction.atomic() if spec.atomic else nullcontext()


def _batch(job: Job, token: uuid.UUID, spec: JobKindSpec) -> None:
    """One batch; its progress commits with it (right after it when the kind is not atomic)."""
    with _in_transaction(spec):
        result = spec.handler.batch(job, job.position)
        _progress(job, token, result)


def _progress(job: Job, token: uuid.UUID, result: BatchResult) -> None:
    reasons = dict(job.skipped_reasons)
    for code, count in result.skipped.items():
        reasons[code] = reasons.get(code, 0) + count
    skipped = sum(result.skipped.values())
    changed = _mine(job, token).update(
        position=result.position,
        batches_done=result.finished,
        done=F("done") + result.done,
        skipped=F("skipped") + skipped,
        skipped_reasons=reasons,
        heartbeat_at=Now(),
        updated_at=Now(),
    )
    if not changed:
        raise ClaimLost  # rolls the batch back with it
    job.position, job.batches_done, job.skipped_reasons = result.position, result.finished, reasons
    job.done += result.done
    job.skipped += skipped


def _finish(job: Job, token: uuid.UUID, spec: JobKindSpec) -> str:
    with _in_transaction(spec):
        done = spec.handler.finish(job) or 0
        if done:
            _mine(job, token).update(done=F("done") + done)
            job.done += done
        _end(job, token, JobState.SUCCEEDED)
    return "succeeded"


def _end(job: Job, token: uuid.UUID, state: str, error: dict[str, Any] | None = None) -> None:
    changed = _mine(job, token).update(
        state=state,
        error=error,
        run_token=None,
        heartbeat_at=Now(),
        finished_at=Now(),
        updated_at=Now(),
    )
    if not changed:
        raise ClaimLost
    job.state, job.error = state, error


def _hand_back(job: Job, token: uuid.UUID) -> None:
    with transaction.atomic():
        changed = _mine(job, token).update(
            state=JobState.QUEUED, run_token=None, heartbeat_at=Now(), updated_at=Now()
        )
        if not changed:
            raise ClaimLost
        job_enqueue_on_commit(job_id=job.pk)
    job.state = JobState.QUEUED


def _fail(job: Job, token: uuid.UUID, error: Exception) -> None:
    try:
        _end(job, token, JobState.FAILED, job_error_shape(error))
    except ClaimLost:
        pass
    except DatabaseError:
        # The connection is gone too: the job falls silent and is queued again.
        logger.exception("Job %s: its failure could not be recorded", job.pk)


def job_error_shape(error: Exception) -> dict[str, Any]:
    """ERROR as the API's error shape; an unexpected one says only its class (the log has the
    traceback) and that the job can be resumed."""
    problems: list[Any] = []
    if isinstance(error, InvalidInput):
        kind, message, problems = "validation_error", error.message, error.problems
    elif isinstance(error, Conflict):
        kind, message, problems = "conflict", error.message, error.problems
    elif isinstance(error, PlanRequired):
        kind, message = "plan_required", error.message
    else:
        kind = "service_unavailable"
        message = (
            f"The job stopped on an unexpected error ({type(error).__name__}); "
            "it can be resumed from its last batch."
        )
    return {
        "type": kind,
        "message": message,
        "errors": [{"key": p.key, "code": p.code, "message": p.message} for p in problems],
    }


_HEARTBEAT_SQL = (
    f"UPDATE {Job._meta.db_table} SET heartbeat_at = statement_timestamp() "  # noqa: S608 - the model's table
    f"WHERE id = (SELECT id FROM {Job._meta.db_table} "
    "WHERE id = %s AND run_token = %s FOR UPDATE SKIP LOCKED)"
)


class _Heartbeat:
    """Writes the job's heartbeat from a thread while a long batch runs (each batch's progress
    writes it too). It never waits on the job's row: when the runner holds it, it skips."""

    def __init__(self, job_id: int, token: uuid.UUID) -> None:
        self.job_id, self.token = job_id, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat")
        self._thread.daemon = True

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.JOB_HEARTBEAT_INTERVAL_S):
                with connection.cursor() as cursor:
                    cursor.execute(_HEARTBEAT_SQL, [self.job_id, self.token])
        except DatabaseError:
            logger.exception("Job %s: the heartbeat stopped", self.job_id)
        finally:
            connection.close()  # this thread's own connection


@contextmanager
def _stop_signal() -> Iterator[threading.Event]:
    """An event set when the worker is asked to stop; the worker's own handler still runs."""
    stop = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not (_Process.hand_back_on_signal and in_main_thread):
        yield stop
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        before = previous[signal.Signals(signum)]
        if callable(before):
            before(signum, frame)

    for signum in previous:
        signal.signal(signum, on_signal)
    try:
        yield stop
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


@task()
def job_run(job_id: int) -> str:
    """The Django task that runs job JOB_ID from its last committed batch."""
    return job_execute(job_id=job_id)


def job_enqueue_on_commit(*, job_id: int) -> None:
    """Queue a run of job JOB_ID once the current transaction commits; keep the task's id."""

    def enqueue() -> None:
        result = job_run.enqueue(job_id)
        Job.objects.filter(pk=job_id).update(task_id=str(result.id))

    transaction.on_commit(enqueue)
