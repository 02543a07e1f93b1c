"""The tag delete job: run for real through the API (tasks at once, and a real `db_worker`
process), cancelled and failed mid-way, then resumed where it stopped, nothing done twice."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from contacts import jobs
from contacts.models import Contact, Tag
from contacts.services.tags import tag_catalogue_ensure, tag_delete_start, tag_removal_batch
from crm.jobs.kinds import job_kind_get
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.jobs.services import job_cancel, job_resume
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Permission, Viewer
from tests.api_clients import credential_client as api
from tests.contacts.factories import ContactFactory
from tests.crm.jobs.test_worker import started, wait_until, worker

TAGS = "/open/v5/user-tags"


def owner(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def tagged(channel: Channel, *tags: str) -> Contact:
    with transaction.atomic():
        tag_catalogue_ensure(channel=channel, tags=tags)
    return ContactFactory(channel=channel, tags=list(tags))


def tag_sets(channel: Channel) -> list[list[str]]:
    return list(
        Contact.objects.filter(channel=channel).order_by("id").values_list("tags", flat=True)
    )


def catalogue(channel: Channel) -> list[str]:
    return list(Tag.objects.filter(channel=channel).values_list("name", flat=True))


def in_batches_of_two(monkeypatch: pytest.MonkeyPatch, then: Callable[[int], None]) -> list[int]:
    """The job's batches take two holders each; the positions they start from, in order;
    THEN(n) runs after the n-th batch (from 1)."""
    positions: list[int] = []
    step = functools.partial(tag_removal_batch, batch_size=2)

    def batch(**kwargs: Any) -> Any:
        positions.append(kwargs["after"])
        done = step(**kwargs)
        then(len(positions))
        return done

    monkeypatch.setattr(jobs, "tag_removal_batch", batch)
    return positions


def test_the_kind_is_registered_by_the_app_with_the_settings_permission() -> None:
    spec = job_kind_get("tagDelete")

    assert (type(spec.handler), spec.permission, spec.atomic) == (
        jobs.TagDelete,
        Permission.GENERAL_SETTINGS,
        True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_tag_delete_runs_through_the_api_to_its_end(
    channel: Channel, other_channel: Channel, tasks_immediate: None
) -> None:
    tagged(channel, "gold", "vip")
    tagged(channel, "vip")
    tagged(channel, "gold")
    tagged(other_channel, "vip")
    client = api(channel)

    response = client.delete(f"{TAGS}/vip")

    assert (response.status_code, response.json()["job"]["kind"]) == (202, "tagDelete")
    job = client.get(f"/open/v5/jobs/{response.json()['job']['id']}").json()["job"]
    assert (job["state"], job["done"], job["total"], job["error"]) == ("succeeded", 2, 2, None)
    assert (catalogue(channel), tag_sets(channel)) == (["gold"], [["gold"], [], ["gold"]])
    assert (catalogue(other_channel), tag_sets(other_channel)) == (["vip"], [["vip"]])


@pytest.mark.django_db
def test_a_cancelled_tag_delete_resumes_where_it_stopped_and_untags_nobody_twice(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    holders = [tagged(channel, "vip").pk for _ in range(5)]
    job = tag_delete_start(tag=Tag.objects.get(name="vip"), requested_by=owner(channel))

    def cancel_after_the_first(calls: int) -> None:
        if calls == 1:  # as POST /open/v5/jobs/{id}/cancel does while the batch runs
            job_cancel(job=Job.objects.get(pk=job.pk), viewer=owner(channel))

    positions = in_batches_of_two(monkeypatch, cancel_after_the_first)

    assert job_execute(job_id=job.pk) == "cancelled"
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.position) == ("cancelled", 2, 5, holders[1])
    assert tag_sets(channel) == [[], [], ["vip"], ["vip"], ["vip"]]
    assert catalogue(channel) == ["vip"]

    job_resume(job=job, viewer=owner(channel))
    assert job_execute(job_id=job.pk) == "succeeded"

    job.refresh_from_db()
    assert positions == [0, holders[1], holders[3]]  # the last batch found fewer than two
    assert (job.state, job.done, job.attempts) == ("succeeded", 5, 2)
    assert (catalogue(channel), tag_sets(channel)) == ([], [[]] * 5)


@pytest.mark.django_db
def test_a_failed_batch_records_the_error_and_how_far_it_got(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    holders = [tagged(channel, "vip").pk for _ in range(3)]
    job = tag_delete_start(tag=Tag.objects.get(name="vip"), requested_by=owner(channel))
    failed: list[int] = []

    def fail_the_second_once(calls: int) -> None:
        if calls == 2 and not failed:
            failed.append(calls)
            raise RuntimeError("the database went away")

    positions = in_batches_of_two(monkeypatch, fail_the_second_once)

    assert job_execute(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert (job.state, job.done, job.position, job.error["type"]) == (
        "failed",
        2,
        holders[1],
        "service_unavailable",
    )
    assert tag_sets(channel) == [[], [], ["vip"]]  # the failed batch rolled back

    job_resume(job=job, viewer=owner(channel))
    assert job_execute(job_id=job.pk) == "succeeded"

    job.refresh_from_db()
    assert positions == [0, holders[1], holders[1]]
    assert (job.done, job.error) == (3, None)
    assert (catalogue(channel), tag_sets(channel)) == ([], [[]] * 3)


@pytest.mark.django_db
def test_contacts_tagged_while_the_batches_ran_are_swept_by_the_last_step(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    early = tagged(channel, "gold")  # its id is below every position the batches reach
    tagged(channel, "vip")
    job = tag_delete_start(tag=Tag.objects.get(name="vip"), requested_by=owner(channel))

    def tag_the_early_one(calls: int) -> None:  # a write that landed behind the batches
        Contact.objects.filter(pk=early.pk).update(tags=["gold", "vip"])

    in_batches_of_two(monkeypatch, tag_the_early_one)

    assert job_execute(job_id=job.pk) == "succeeded"

    job.refresh_from_db()
    assert (job.done, job.total) == (2, 1)  # the holder, and the one swept at the end
    assert catalogue(channel) == ["gold"]
    assert tag_sets(channel) == [["gold"], []]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_runs_a_tag_delete_started_through_the_api(
    channel: Channel, tmp_path: Path
) -> None:
    for _ in range(3):
        tagged(channel, "vip", "gold")
    client = api(channel)
    log = tmp_path / "worker.log"

    with worker(log):
        wait_until(lambda: started(log), 60, log)
        job_id = client.delete(f"{TAGS}/vip").json()["job"]["id"]
        done = lambda: Job.objects.get(pk=job_id).state == "succeeded"  # noqa: E731
        wait_until(done, 60, log)

    job = client.get(f"/open/v5/jobs/{job_id}").json()["job"]
    assert (job["state"], job["done"], job["total"], job["error"]) == ("succeeded", 3, 3, None)
    assert (catalogue(channel), tag_sets(channel)) == (["gold"], [["gold"]] * 3)
