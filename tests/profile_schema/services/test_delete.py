"""Deleting a profile field with its stored values, once the count of holders is confirmed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from crm.errors import Conflict
from crm.jobs.models import Job
from crm.models import AuditAction, AuditEvent, Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from profile_schema import stored_values
from profile_schema.models import ProfileField
from profile_schema.services import (
    StaleConfirmation,
    profile_field_delete,
    profile_field_delete_check,
    profile_field_delete_finish,
    profile_field_delete_preview,
    profile_field_delete_start,
    profile_field_remove_batch,
)
from tests.concurrency import run_together
from tests.contacts.factories import ContactFactory
from tests.profile_schema.factories import field_in
from tests.profile_schema.services.outcomes import error_of, profiles


def test_the_delete_preview_counts_the_contacts_holding_a_value(
    channel: Channel, other_channel: Channel
) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(3, channel=channel, profile={"grade": "gold"})
    ContactFactory(channel=channel, profile={"name": "Kim"})
    ContactFactory(channel=other_channel, profile={"grade": "gold"})

    assert profile_field_delete_preview(field=field) == 3


def test_a_stale_confirmation_is_refused_and_nothing_is_removed(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "gold"})
    confirmed = profile_field_delete_preview(field=field)
    ContactFactory(channel=channel, profile={"grade": "silver"})
    before = profiles(channel)

    with pytest.raises(StaleConfirmation) as caught:
        profile_field_delete(field=field, confirm_count=confirmed)

    assert caught.value.count == 3
    assert caught.value.message_dict == {
        "confirm_count": [
            "3 contacts now hold a value of profile.grade, not 2 as confirmed; review the new "
            "count and confirm again."
        ]
    }
    assert ProfileField.objects.filter(pk=field.pk).exists()
    assert profiles(channel) == before


def test_a_delete_removes_the_values_from_every_contact_in_batches(
    channel: Channel, other_channel: Channel, monkeypatch: Any
) -> None:
    monkeypatch.setattr(stored_values, "BATCH_SIZE", 2)
    field = field_in(channel, "grade")
    for grade in ["gold", "silver", "bronze", "gold", "tin"]:
        ContactFactory(channel=channel, profile={"grade": grade, "name": "Kim"})
    ContactFactory(channel=channel, profile={"name": "Lee"})
    theirs = ContactFactory(channel=other_channel, profile={"grade": "gold"})

    with CaptureQueriesContext(connection) as queries:
        removed = profile_field_delete(field=field, confirm_count=5)

    updates = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE contacts_contact")
    ]
    assert removed == 5
    assert len(updates) == 2 * 3  # the batches, then the final sweep
    assert profiles(channel) == [{"name": "Kim"}] * 5 + [{"name": "Lee"}]
    assert not ProfileField.objects.filter(pk=field.pk).exists()
    theirs.refresh_from_db()
    assert theirs.profile == {"grade": "gold"}


def test_a_preset_can_be_deleted_but_a_built_in_cannot(channel: Channel) -> None:
    referrer = ProfileField.objects.get(channel=channel, key="profile.referrer")
    built_in = ProfileField.objects.get(channel=channel, key="tags")

    profile_field_delete(field=referrer, confirm_count=0)
    refused = error_of(profile_field_delete, field=built_in, confirm_count=0)

    assert refused == {"key": ["tags is a built-in field; it cannot be deleted."]}
    assert list(
        ProfileField.objects.filter(
            channel=channel, key__in=["profile.referrer", "tags"]
        ).values_list("key", flat=True)
    ) == ["tags"]


# -- the deletion's batches, one at a time ----------------------------------------------------


def test_the_values_go_one_batch_at_a_time_and_the_definition_goes_last(
    channel: Channel, other_channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored_values, "BATCH_SIZE", 2)
    field = field_in(channel, "grade")
    contacts = [ContactFactory(channel=channel, profile={"grade": g}) for g in "abc"]
    theirs = ContactFactory(channel=other_channel, profile={"grade": "gold"})
    profile_field_delete_check(field=field, confirm_count=3)

    assert profile_field_remove_batch(field=field, after=0) == (contacts[1].pk, 2)
    assert profile_field_remove_batch(field=field, after=0) == (contacts[1].pk, 0)  # idempotent
    assert profiles(channel) == [{}, {}, {"grade": "c"}]
    assert profile_field_remove_batch(field=field, after=contacts[1].pk) == (contacts[2].pk, 1)
    assert profile_field_remove_batch(field=field, after=contacts[2].pk) == (None, 0)
    assert ProfileField.objects.filter(pk=field.pk).exists()  # still defined during the batches

    # A value written behind the batches is swept up before the definition goes.
    Contact.objects.filter(pk=contacts[0].pk).update(profile={"grade": "late"})
    assert profile_field_delete_finish(field=field) == 1

    assert profiles(channel) == [{}, {}, {}]
    assert not ProfileField.objects.filter(pk=field.pk).exists()
    theirs.refresh_from_db()
    assert theirs.profile == {"grade": "gold"}


def test_the_check_refuses_a_stale_count_before_any_batch(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "gold"})

    refused = error_of(profile_field_delete_check, field=field, confirm_count=1)

    assert refused == {
        "confirm_count": [
            "2 contacts now hold a value of profile.grade, not 1 as confirmed; review the new "
            "count and confirm again."
        ]
    }
    assert profiles(channel) == [{"grade": "gold"}] * 2


@pytest.mark.django_db(transaction=True)
def test_two_deletes_started_at_once_make_one_job_and_one_conflict(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory(channel=channel, profile={"grade": "gold"})
    viewer = Viewer(channel=channel, permissions=ALL_PERMISSIONS)

    def start(n: int) -> object:
        try:
            job = profile_field_delete_start(field=field, confirm_count=1, requested_by=viewer)
        except Conflict as refusal:
            return refusal.problems[0].code
        return job.pk

    outcomes = run_together(2, start)

    [job] = Job.objects.all()
    assert sorted(map(str, outcomes)) == sorted([str(job.pk), "job_running"])
    assert (job.kind, job.total, job.params) == (
        "fieldDelete",
        1,
        {"fieldId": field.pk, "key": "profile.grade"},
    )


def test_a_deletion_is_recorded_once_decided_and_a_refused_one_is_not(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "gold-marker-5512"})
    viewer = Viewer(channel=channel, permissions=ALL_PERMISSIONS)

    error_of(profile_field_delete, field=field, confirm_count=1, viewer=viewer)
    assert not AuditEvent.objects.filter(action=AuditAction.FIELD_DELETE).exists()
    profile_field_delete(field=field, confirm_count=2, viewer=viewer)

    [record] = AuditEvent.objects.filter(action=AuditAction.FIELD_DELETE)
    assert (record.channel_id, record.keys, record.detail) == (
        channel.pk,
        ["profile.grade"],
        {"type": "string", "count": 2},
    )
    assert "gold-marker-5512" not in str(record.detail)
