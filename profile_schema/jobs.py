"""The profile schema's background jobs, found by crm.jobs at start: a field delete, a type
change and an index build, and the periodic converge of indexes and statistics.

Each batch is one step of a service, run again harmlessly from the same position: the position
is the last contact id a batch covered (keyset), so a failed or cancelled job resumes there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crm.errors import Conflict
from crm.jobs.kinds import BatchResult, JobHandler, job_kind
from crm.jobs.models import Job, JobKind
from crm.jobs.periodic import periodic_hook_register
from crm.permissions import Permission
from profile_schema.background import schema_converge
from profile_schema.indexes import index_sync
from profile_schema.models import FieldType, ProfileField
from profile_schema.services import (
    profile_field_convert_batch,
    profile_field_delete_finish,
    profile_field_remove_batch,
)
from profile_schema.stored_values import Batch

CONVERGE_EVERY = timedelta(minutes=5)


def _field(job: Job) -> ProfileField | None:
    """The field JOB works on; None once it is gone (deleted: nothing is left to do)."""
    return ProfileField.objects.select_related("channel").filter(pk=job.params["fieldId"]).first()


def _result(position: Any, batch: Batch) -> BatchResult:
    """BATCH, run from POSITION, as the runner records it: the walk ends when no contact is left."""
    last, changed = batch
    return BatchResult(
        position=position if last is None else last, done=changed, finished=last is None
    )


@job_kind(JobKind.FIELD_DELETE, permission=Permission.GENERAL_SETTINGS)
class FieldDelete(JobHandler):
    """params: fieldId, key. The values go batch by batch; the definition goes last."""

    def batch(self, job: Job, position: Any) -> BatchResult:
        field = _field(job)
        if field is None:
            return BatchResult(position=position, finished=True)
        return _result(position, profile_field_remove_batch(field=field, after=position or 0))

    def finish(self, job: Job) -> int:
        field = _field(job)
        return 0 if field is None else profile_field_delete_finish(field=field)


@job_kind(JobKind.TYPE_CHANGE, permission=Permission.GENERAL_SETTINGS)
class TypeChange(JobHandler):
    """params: fieldId, key, from, to. The definition switched when the job started; the
    stored values convert from `from` to `to` batch by batch."""

    def batch(self, job: Job, position: Any) -> BatchResult:
        field = _field(job)
        if field is None:
            return BatchResult(position=position, finished=True)
        if field.type != job.params["to"]:
            # Changed again since (this job had failed or was cancelled): its conversion
            # would no longer be the one the values need.
            target = FieldType(job.params["to"]).label
            raise Conflict(
                f"{field.key} has become a {FieldType(field.type).label} field since this job "
                f"started; its values left were not converted to {target}."
            )
        source = job.params["from"]
        batch = profile_field_convert_batch(field=field, source=source, after=position or 0)
        return _result(position, batch)


@job_kind(JobKind.INDEX_BUILD, permission=Permission.GENERAL_SETTINGS, atomic=False)
class IndexBuild(JobHandler):
    """params: name, key. One batch: build, rebuild or drop the index as its field's flag says
    (CREATE INDEX CONCURRENTLY cannot run in a transaction) and record the field's state."""

    def batch(self, job: Job, position: Any) -> BatchResult:
        outcome = index_sync(name=job.params["name"])
        if outcome.action == "failed":
            raise Conflict(
                f"The index {outcome.name} of {job.params['key']} could not be built: "
                f"{outcome.error}. Resume this job, or mark the field again, to try again."
            )
        return BatchResult(position={"action": outcome.action}, done=1, finished=True)


periodic_hook_register(name="profile_schema.converge", run=schema_converge, every=CONVERGE_EVERY)
