"""The jobs in the Django admin: the manager's channels only, read-only, with a cancel action."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm import services as crm_services
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.models import Channel
from tests.crm.factories import manager_in
from tests.crm.jobs.conftest import counting_job

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:jobs_job_changelist"


def client_for(channel: Channel, role: str = "owner") -> Client:
    client = Client()
    client.force_login(manager_in(channel, role).user)
    return client


def test_the_changelist_shows_the_jobs_of_the_managers_channels_with_their_progress(
    channel: Channel, other_channel: Channel, counting: None
) -> None:
    ours = counting_job(channel, items=5, skipOdd=True)
    job_execute(job_id=ours.pk)
    theirs = counting_job(other_channel, items=2)

    page = client_for(channel).get(reverse(CHANGELIST)).content.decode()

    assert f"/admin/jobs/job/{ours.pk}/change/" in page
    assert f"/admin/jobs/job/{theirs.pk}/change/" not in page
    assert "3 / 5" in page and "Succeeded" in page


def test_any_role_of_the_channel_follows_its_jobs(channel: Channel, counting: None) -> None:
    crm_services.role_create(channel=channel, name="settings", permissions=["general_settings"])
    job = counting_job(channel, items=2)

    response = client_for(channel, "settings").get(reverse("admin:jobs_job_change", args=[job.pk]))

    assert response.status_code == 200
    assert "Save" not in response.content.decode()  # read-only


def test_another_channels_job_cannot_be_opened(
    channel: Channel, other_channel: Channel, counting: None
) -> None:
    theirs = counting_job(other_channel, items=2)

    response = client_for(channel).get(reverse("admin:jobs_job_change", args=[theirs.pk]))

    assert response.status_code == 302  # to the index: "not found" in the admin's own way
    assert Job.objects.get(pk=theirs.pk).state == "queued"


def test_the_cancel_action_cancels_what_it_may_and_says_what_it_may_not(
    channel: Channel, counting: None
) -> None:
    queued = counting_job(channel, items=2)
    done = counting_job(channel, items=2)
    job_execute(job_id=done.pk)

    response = client_for(channel).post(
        reverse(CHANGELIST),
        {"action": "cancel", "_selected_action": [queued.pk, done.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "Cancelled 1 job(s); a running job stops after its batch." in page
    assert f"#{done.pk}: The job has already succeeded" in page
    assert Job.objects.get(pk=queued.pk).state == "cancelled"
    assert Job.objects.get(pk=done.pk).state == "succeeded"


def test_the_cancel_action_needs_the_permission_of_the_kind(
    channel: Channel, counting: None
) -> None:
    job = counting_job(channel, items=2)

    response = client_for(channel, "basic").post(
        reverse(CHANGELIST), {"action": "cancel", "_selected_action": [job.pk]}, follow=True
    )

    assert "lacks the general_settings permission" in response.content.decode()
    assert Job.objects.get(pk=job.pk).state == "queued"
    assert Job.objects.get(pk=job.pk).cancel_requested is False


def test_the_resume_action_queues_a_failed_job_again_and_shows_why_it_failed(
    channel: Channel, counting: None
) -> None:
    failed = counting_job(channel, items=4, failAt=2)
    job_execute(job_id=failed.pk)
    client = client_for(channel)

    listing = client.get(reverse(CHANGELIST)).content.decode()
    response = client.post(
        reverse(CHANGELIST), {"action": "resume", "_selected_action": [failed.pk]}, follow=True
    )

    assert "service_unavailable: The job stopped on an unexpected error (RuntimeError)" in listing
    assert "Queued 1 job(s) again, from their last batch." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.state, failed.error, failed.position) == ("queued", None, 2)
