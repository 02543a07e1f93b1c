"""The job record's rules, held by the database itself."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.jobs.models import Job
from crm.models import Channel

pytestmark = pytest.mark.django_db


def refused(channel: Channel, **fields: Any) -> str:
    """The name of the constraint that refuses a job with FIELDS."""
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        Job.objects.create(channel=channel, kind=fields.pop("kind", "bulk"), **fields)
    return str(error.value)


def test_a_job_is_created_queued_with_nothing_done(channel: Channel) -> None:
    job = Job.objects.create(channel=channel, kind="tagDelete", params={"tag": "vip"})

    assert (job.state, job.done, job.skipped, job.skipped_reasons, job.total) == (
        "queued",
        0,
        0,
        {},
        None,
    )
    assert str(job) == f"Tag delete #{job.pk} (queued)"


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"kind": "reindex"}, "job_kind_known"),
        ({"state": "paused"}, "job_state_known"),
        ({"done": -1}, "job_counts_not_negative"),
        ({"total": -5}, "job_counts_not_negative"),
        ({"state": "succeeded"}, "job_finished_when_over"),
        ({"finished_at": timezone.now()}, "job_finished_when_over"),
        ({"state": "running"}, "job_claimed_while_running"),
        ({"run_token": uuid.uuid4()}, "job_claimed_while_running"),
    ],
)
def test_the_database_refuses_a_job_that_breaks_a_rule(
    channel: Channel, fields: dict[str, Any], constraint: str
) -> None:
    assert constraint in refused(channel, **fields)


def test_a_job_has_one_requester_at_most(channel: Channel) -> None:
    from crm import services
    from tests.crm.factories import manager_in

    user = manager_in(channel).user
    credential = services.credential_create(
        channel=channel, role=services.role_get(channel=channel, name="owner")
    ).credential

    constraint = refused(channel, requested_by_user=user, requested_by_credential=credential)

    assert "job_one_requester" in constraint


def test_jobs_list_newest_first(channel: Channel) -> None:
    first = Job.objects.create(channel=channel, kind="bulk")
    second = Job.objects.create(channel=channel, kind="bulk")

    assert list(Job.objects.all()) == [second, first]
