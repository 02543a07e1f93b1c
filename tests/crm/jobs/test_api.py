"""GET /open/v5/jobs/{id} and POST /open/v5/jobs/{id}/cancel: same channel only, exact bodies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.jobs.api import job_accepted
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.jobs.serializers import job_object
from crm.models import Channel
from tests.api_clients import credential_client as api
from tests.crm.factories import manager_in
from tests.crm.jobs.conftest import counting_job

pytestmark = pytest.mark.django_db
NOT_FOUND = {"type": "not_found", "message": "Not found.", "errors": []}


def url(job: Job | str, cancel: bool = False) -> str:
    pk = job.pk if isinstance(job, Job) else job
    return f"/open/v5/jobs/{pk}" + ("/cancel" if cancel else "")


def ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def row(job: Job) -> dict[str, Any]:
    return Job.objects.filter(pk=job.pk).values().get()


def test_a_job_reads_as_the_job_object(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=5, skipOdd=True)
    job_execute(job_id=job.pk)
    job.refresh_from_db()

    response = api(channel, "nothing", permissions=[]).get(url(job))

    assert response.status_code == 200
    assert response.json() == {
        "job": {
            "id": str(job.pk),
            "kind": "export",
            "state": "succeeded",
            "done": 3,
            "skipped": 2,
            "skippedReasons": {"odd": 2},
            "total": 5,
            "error": None,
            "createdAt": ms(job.created_at),
            "finishedAt": ms(job.finished_at),
        }
    }
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(
        response.headers
    )


def test_a_failed_job_shows_why(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=4, failAt=0)
    job_execute(job_id=job.pk)

    body = api(channel).get(url(job)).json()["job"]

    assert (body["state"], body["done"], body["finishedAt"] is not None) == ("failed", 0, True)
    assert body["error"] == {
        "type": "service_unavailable",
        "message": "The job stopped on an unexpected error (RuntimeError); it can be resumed"
        " from its last batch.",
        "errors": [],
    }


def test_a_queued_job_has_no_total_nor_finish_yet(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=4)

    body = api(channel).get(url(job)).json()["job"]

    assert (body["state"], body["total"], body["finishedAt"], body["skippedReasons"]) == (
        "queued",
        None,
        None,
        {},
    )


def test_another_channels_job_is_not_found(
    channel: Channel, other_channel: Channel, counting: None
) -> None:
    theirs = counting_job(other_channel, items=2)

    response = api(channel).get(url(theirs))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("job_id", ["abc", "0", "-1", "99999999999999999999", "1.0"])
def test_a_malformed_or_unknown_id_is_not_found(channel: Channel, job_id: str) -> None:
    response = api(channel).get(url(job_id))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_unknown_query_parameters_are_refused(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)

    response = api(channel).get(url(job), {"verbose": "1"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "key": "verbose",
            "code": "unknown_parameter",
            "message": "verbose is not a query parameter here; it takes none.",
        }
    ]


def test_reading_needs_credentials(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)

    response = Client().get(url(job))

    assert response.status_code == 401
    assert response.json()["type"] == "authentication_failed"


def test_a_managers_session_reads_the_jobs_of_their_channel(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=2)
    client = Client()
    client.force_login(manager_in(channel, "basic").user)

    response = client.get(url(job))

    assert (response.status_code, response.json()["job"]["id"]) == (200, str(job.pk))


def test_reading_a_job_takes_a_fixed_number_of_queries(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)
    client = api(channel)
    client.get(url(job))

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(job)).status_code == 200

    # the credential, the rate-limit window, the job
    assert len(queries) == 3, [q["sql"] for q in queries]


def test_cancelling_a_queued_job_answers_it_cancelled(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)

    response = api(channel).post(url(job, cancel=True))

    job.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["job"] == {
        "id": str(job.pk),
        "kind": "export",
        "state": "cancelled",
        "done": 0,
        "skipped": 0,
        "skippedReasons": {},
        "total": None,
        "error": None,
        "createdAt": ms(job.created_at),
        "finishedAt": ms(job.finished_at),
    }


def test_cancelling_a_running_job_answers_it_running_until_its_batch_ends(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=2)
    Job.objects.filter(pk=job.pk).update(state="running", run_token=uuid.uuid4())

    response = api(channel).post(url(job, cancel=True))

    assert (response.status_code, response.json()["job"]["state"]) == (200, "running")
    assert row(job)["cancel_requested"] is True


def test_cancelling_takes_a_fixed_number_of_queries(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)
    client = api(channel)
    client.get(url(job))

    with CaptureQueriesContext(connection) as queries:
        assert client.post(url(job, cancel=True)).status_code == 200

    # the credential, the rate-limit window, the job, then in one transaction: savepoint, the
    # job locked, its update, release
    assert len(queries) == 7, [q["sql"] for q in queries]


def test_cancelling_a_finished_job_is_a_conflict_and_changes_nothing(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=2)
    job_execute(job_id=job.pk)
    before = row(job)

    response = api(channel).post(url(job, cancel=True))

    assert (response.status_code, response.json()) == (
        409,
        {
            "type": "conflict",
            "message": "The job has already succeeded: only a queued or running job can be"
            " cancelled.",
            "errors": [],
        },
    )
    assert row(job) == before


def test_cancelling_needs_the_permission_that_starts_the_kind(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=2)
    before = row(job)

    response = api(channel, "basic").post(url(job, cancel=True))

    assert (response.status_code, response.json()) == (
        403,
        {
            "type": "permission_denied",
            "message": "Your role lacks the general_settings permission needed for this.",
            "errors": [],
        },
    )
    assert row(job) == before


def test_another_channels_job_cannot_be_cancelled(
    channel: Channel, other_channel: Channel, counting: None
) -> None:
    theirs = counting_job(other_channel, items=2)
    before = row(theirs)

    response = api(channel).post(url(theirs, cancel=True))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert row(theirs) == before


def test_cancel_takes_only_post(channel: Channel, counting: None) -> None:
    job = counting_job(channel, items=2)

    response = api(channel).get(url(job, cancel=True))

    assert response.status_code == 405
    assert response.json()["type"] == "method_not_allowed"


def test_an_endpoint_that_starts_a_job_answers_202_with_it(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=2)

    response = job_accepted(job)

    assert response.status_code == 202
    assert response.data == {"job": job_object(job)}
    assert (response.data["job"]["id"], response.data["job"]["state"]) == (str(job.pk), "queued")


def test_the_schema_describes_the_error_of_a_failed_job(db: None) -> None:
    schema = Client().get("/open/v5/schema/", {"format": "json"}).json()

    components = schema["components"]["schemas"]
    assert "service_unavailable" in components["ErrorTypeEnum"]["enum"]
    assert components["JobStateEnum"]["enum"] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]
