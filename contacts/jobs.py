"""The contacts' background jobs, found by crm.jobs at start: a tag delete.

Each batch takes the tag off the next holders after the last contact id the one before reached
(keyset), in its own transaction, so a failed or cancelled job resumes there."""

from __future__ import annotations

from typing import Any

from contacts.services.tags import tag_removal_batch, tag_removal_finish
from crm.jobs.kinds import BatchResult, JobHandler, job_kind
from crm.jobs.models import Job, JobKind
from crm.permissions import Permission


@job_kind(JobKind.TAG_DELETE, permission=Permission.GENERAL_SETTINGS)
class TagDelete(JobHandler):
    """params: name. The holders lose the tag batch by batch; the catalogue entry goes last."""

    def batch(self, job: Job, position: Any) -> BatchResult:
        batch = tag_removal_batch(
            channel_id=job.channel_id, name=job.params["name"], after=position or 0
        )
        return BatchResult(position=batch.last_id, done=batch.changed, finished=batch.finished)

    def finish(self, job: Job) -> int:
        return tag_removal_finish(channel_id=job.channel_id, name=job.params["name"])
