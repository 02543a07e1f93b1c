"""The profile schema's jobs: a field delete and a type change run for real through the API,
stopped (cancel, failure) and resumed where they stopped, nothing done twice; the index build's
runs are in test_indexes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from contacts.models import Contact
from crm.jobs.kinds import job_kind_get
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.jobs.services import job_cancel, job_resume
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Permission, Viewer
from profile_schema import jobs, stored_values
from profile_schema.models import FieldType, ProfileField
from profile_schema.services import profile_field_change_start, profile_field_delete_start
from tests.api_clients import credential_client as api
from tests.contacts.factories import ContactFactory
from tests.profile_schema.factories import field_in
from tests.profile_schema.schema_objects import (
    _no_index_left_behind,  # noqa: F401 -- autouse
    transactional,
)

FIELDS = "/open/v5/profile-fields"


def owner(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def values(channel: Channel, key: str) -> list[Any]:
    rows = Contact.objects.filter(channel=channel).order_by("id")
    return [profile.get(key, "-") for profile in rows.values_list("profile", flat=True)]


def recorded(monkeypatch: pytest.MonkeyPatch, name: str, then: Callable[[int], None]) -> list[int]:
    """The positions each batch of the step NAME of profile_schema.jobs starts from, in order;
    THEN(n) runs after the n-th call (from 1)."""
    step, positions = getattr(jobs, name), []

    def wrapped(**kwargs: Any) -> Any:
        positions.append(kwargs["after"])
        done = step(**kwargs)
        then(len(positions))
        return done

    monkeypatch.setattr(jobs, name, wrapped)
    return positions


def test_the_kinds_are_registered_by_the_app_with_the_settings_permission() -> None:
    kinds = {kind: job_kind_get(kind) for kind in ("fieldDelete", "typeChange", "indexBuild")}

    assert {kind: type(spec.handler) for kind, spec in kinds.items()} == {
        "fieldDelete": jobs.FieldDelete,
        "typeChange": jobs.TypeChange,
        "indexBuild": jobs.IndexBuild,
    }
    assert {spec.permission for spec in kinds.values()} == {Permission.GENERAL_SETTINGS}
    assert [spec.atomic for spec in kinds.values()] == [True, True, False]


# -- end to end, the job run by the task queue (at once) ------------------------------------------


@transactional
def test_a_field_delete_runs_through_the_api_to_its_end(
    channel: Channel, other_channel: Channel, tasks_immediate: None
) -> None:
    field_in(channel, "grade")
    field_in(other_channel, "grade")
    for profile in ({"grade": "a"}, {"name": "Kim"}, {"grade": "b", "name": "Lee"}):
        ContactFactory(channel=channel, profile=profile)
    ContactFactory(channel=other_channel, profile={"grade": "c"})
    client = api(channel)

    response = client.delete(f"{FIELDS}/profile.grade?confirmCount=2")

    assert (response.status_code, response.json()["job"]["kind"]) == (202, "fieldDelete")
    job = client.get(f"/open/v5/jobs/{response.json()['job']['id']}").json()["job"]
    assert (job["state"], job["done"], job["total"], job["error"]) == ("succeeded", 2, 2, None)
    assert job["finishedAt"] is not None
    assert not ProfileField.objects.filter(channel=channel, key="profile.grade").exists()
    assert values(channel, "grade") == ["-", "-", "-"]
    assert values(other_channel, "grade") == ["c"]
    assert client.get(f"{FIELDS}/profile.grade").status_code == 404


@transactional
def test_a_type_change_runs_through_the_api_to_its_end(
    channel: Channel, tasks_immediate: None
) -> None:
    field_in(channel, "hobby")
    for hobby in ("golf", "chess"):
        ContactFactory(channel=channel, profile={"hobby": hobby})
    client = api(channel)
    body = json.dumps({"type": "list", "name": "Hobbies"})

    response = client.patch(f"{FIELDS}/profile.hobby", data=body, content_type="application/json")

    assert (response.status_code, response.json()["job"]["kind"]) == (202, "typeChange")
    job = client.get(f"/open/v5/jobs/{response.json()['job']['id']}").json()["job"]
    assert (job["state"], job["done"], job["total"], job["error"]) == ("succeeded", 2, 2, None)
    field = client.get(f"{FIELDS}/profile.hobby").json()["profileField"]
    assert (field["type"], field["name"]) == ("list", "Hobbies")
    assert values(channel, "hobby") == [["golf"], ["chess"]]


# -- stopped and resumed ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cancelled_delete_resumes_where_it_stopped_and_removes_nothing_twice(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored_values, "BATCH_SIZE", 2)
    field = field_in(channel, "grade")
    ids = [ContactFactory(channel=channel, profile={"grade": str(n)}).pk for n in range(5)]
    job = profile_field_delete_start(field=field, confirm_count=5, requested_by=owner(channel))

    def cancel_after_the_first(calls: int) -> None:
        if calls == 1:  # as POST /open/v5/jobs/{id}/cancel does while the batch runs
            job_cancel(job=Job.objects.get(pk=job.pk), viewer=owner(channel))

    positions = recorded(monkeypatch, "profile_field_remove_batch", cancel_after_the_first)

    assert job_execute(job_id=job.pk) == "cancelled"
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.position) == ("cancelled", 2, 5, ids[1])
    assert values(channel, "grade") == ["-", "-", "2", "3", "4"]
    assert ProfileField.objects.filter(pk=field.pk).exists()

    job_resume(job=job, viewer=owner(channel))
    assert job_execute(job_id=job.pk) == "succeeded"

    job.refresh_from_db()
    assert positions == [0, ids[1], ids[3], ids[4]]  # each batch once, from where it stopped
    assert (job.state, job.done, job.attempts) == ("succeeded", 5, 2)
    assert values(channel, "grade") == ["-"] * 5
    assert not ProfileField.objects.filter(pk=field.pk).exists()


@pytest.mark.django_db
def test_a_failed_type_change_batch_records_the_error_and_how_far_it_got(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored_values, "BATCH_SIZE", 2)
    field = field_in(channel, "points")
    ids = [ContactFactory(channel=channel, profile={"points": str(n)}).pk for n in range(5)]
    job = profile_field_change_start(field=field, requested_by=owner(channel), type="number")
    assert job is not None

    def fail_the_second(calls: int) -> None:
        if calls == 2:
            raise RuntimeError("the database went away")

    positions = recorded(monkeypatch, "profile_field_convert_batch", fail_the_second)

    assert job_execute(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.position) == ("failed", 2, 5, ids[1])
    assert job.error == {
        "type": "service_unavailable",
        "message": "The job stopped on an unexpected error (RuntimeError); it can be resumed"
        " from its last batch.",
        "errors": [],
    }
    assert values(channel, "points") == [0, 1, "2", "3", "4"]  # the failed batch rolled back

    job_resume(job=job, viewer=owner(channel))
    assert job_execute(job_id=job.pk) == "succeeded"

    job.refresh_from_db()
    assert positions == [0, ids[1], ids[1], ids[3], ids[4]]  # the failed one again, once
    assert (job.state, job.done, job.error) == ("succeeded", 5, None)
    assert values(channel, "points") == [0, 1, 2, 3, 4]


@pytest.mark.django_db
def test_a_type_change_resumed_after_the_field_changed_again_fails_naming_it(
    channel: Channel,
) -> None:
    field = field_in(channel, "points")
    ContactFactory(channel=channel, profile={"points": "7"})
    job = profile_field_change_start(field=field, requested_by=owner(channel), type="number")
    assert job is not None
    job_cancel(job=job, viewer=owner(channel))
    ProfileField.objects.filter(pk=field.pk).update(type=FieldType.STRING)
    job_resume(job=job, viewer=owner(channel))

    assert job_execute(job_id=job.pk) == "failed"

    job.refresh_from_db()
    assert job.error == {
        "type": "conflict",
        "message": "profile.points has become a String field since this job started; its "
        "values left were not converted to Number.",
        "errors": [],
    }
    assert values(channel, "points") == ["7"]


@pytest.mark.django_db
def test_a_delete_resumed_once_the_field_is_gone_has_nothing_left_to_do(channel: Channel) -> None:
    field = field_in(channel, "grade")
    job = profile_field_delete_start(field=field, confirm_count=0, requested_by=owner(channel))
    ProfileField.objects.filter(pk=field.pk).delete()

    assert job_execute(job_id=job.pk) == "succeeded"

    job.refresh_from_db()
    assert (job.state, job.done, job.error) == ("succeeded", 0, None)
