"""Reads of jobs: the unfinished job working on a thing, of its channel only."""

from __future__ import annotations

import pytest

from crm.jobs.models import Job, JobKind
from crm.jobs.selectors import job_active_on
from crm.models import Channel
from tests.crm.jobs.conftest import COUNTING, counting_job

pytestmark = pytest.mark.django_db


def test_the_active_job_on_a_thing_is_the_oldest_queued_or_running_one(
    channel: Channel, other_channel: Channel, counting: None
) -> None:
    finished = counting_job(channel, items=2, on="vip")
    Job.objects.filter(pk=finished.pk).update(state="failed", finished_at=finished.created_at)
    counting_job(other_channel, items=2, on="vip")
    running = counting_job(channel, items=2, on="vip")
    Job.objects.filter(pk=running.pk).update(state="running", run_token="0" * 32)
    counting_job(channel, items=2, on="vip")

    found = job_active_on(channel_id=channel.pk, kinds=[COUNTING], params={"on": "vip"})

    assert found == running
    assert job_active_on(channel_id=channel.pk, kinds=[COUNTING], params={"on": "gold"}) is None
    kinds = [JobKind.TAG_DELETE]
    assert job_active_on(channel_id=channel.pk, kinds=kinds, params={"on": "vip"}) is None
