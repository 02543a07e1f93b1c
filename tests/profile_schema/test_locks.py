"""A value validated under the old field definitions never commits after a schema switch."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from contacts.models import Contact
from crm.models import Channel
from crm.provisioning import channel_provision
from profile_schema.locks import ChannelGone, schema_read_lock, schema_write_lock
from profile_schema.models import FieldType, ProfileField
from profile_schema.services import profile_field_create, profile_field_type_change
from profile_schema.validation import ProfileValidationError, profile_values_clean
from tests.concurrency import run_together


@pytest.mark.django_db(transaction=True)
def test_a_type_change_waits_for_a_write_validated_under_the_old_type() -> None:
    channel = channel_provision(name="Race")
    field = profile_field_create(channel=channel, key="code", name="Code", type=FieldType.STRING)
    contact = Contact.objects.create(channel=channel, profile={})
    validated = threading.Event()
    outcome: list[str] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                schema_read_lock(channel)
                values = profile_values_clean(channel=channel, values={"code": "abc"})
                validated.set()
                time.sleep(0.5)  # the type change arrives meanwhile
                Contact.objects.filter(pk=contact.pk).update(profile=values)
        finally:
            connection.close()

    def switcher() -> None:
        try:
            validated.wait(5)
            profile_field_type_change(field=ProfileField.objects.get(pk=field.pk), type="number")
            outcome.append("changed")
        except ValidationError as error:
            outcome.append(f"refused: {getattr(error, 'count', None)}")
        finally:
            connection.close()

    run_together(2, lambda n: (writer, switcher)[n]())

    assert outcome == ["refused: 1"]  # the write landed first, and "abc" is no number
    assert Contact.objects.get(pk=contact.pk).profile == {"code": "abc"}
    assert ProfileField.objects.get(pk=field.pk).type == FieldType.STRING


@pytest.mark.django_db(transaction=True)
def test_a_write_waiting_for_a_type_change_validates_under_the_new_type() -> None:
    channel = channel_provision(name="Race the other way")
    field = profile_field_create(channel=channel, key="code", name="Code", type=FieldType.STRING)
    profile_values_clean(channel=channel, values={"code": "abc"})  # caches the string definition
    switching = threading.Event()
    outcome: list[str] = []

    def switcher() -> None:
        try:
            with transaction.atomic():
                schema_write_lock(channel_id=channel.pk)
                ProfileField.objects.filter(pk=field.pk).update(type=FieldType.NUMBER)
                switching.set()
                time.sleep(0.5)  # the writer asks for the lock meanwhile
        finally:
            connection.close()

    def writer() -> None:
        try:
            switching.wait(5)
            with transaction.atomic():
                schema_read_lock(channel)  # waits for the switch to commit
                profile_values_clean(channel=channel, values={"code": "abc"})
            outcome.append("accepted")
        except ProfileValidationError as error:
            outcome.append(error.problems[0].code)
        finally:
            connection.close()

    run_together(2, lambda n: (switcher, writer)[n]())

    assert outcome == ["invalid_type"]  # "abc" checked as a number, not as the cached string


def stored_version(channel: Channel) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version FROM profile_schema_version WHERE channel_id = %s", [channel.pk]
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.django_db
def test_every_field_change_gives_the_channel_a_new_schema_version() -> None:
    channel = channel_provision(name="Versions")
    seen = [stored_version(channel)]

    field = profile_field_create(channel=channel, key="code", name="Code", type=FieldType.STRING)
    seen.append(stored_version(channel))
    ProfileField.objects.filter(pk=field.pk).update(name="Code name")
    seen.append(stored_version(channel))
    ProfileField.objects.filter(pk=field.pk).update(index_state="pending", index_error="")
    assert stored_version(channel) == seen[-1]  # bookkeeping
    ProfileField.objects.filter(pk=field.pk).delete()
    seen.append(stored_version(channel))

    assert len(set(seen)) == 4
    with transaction.atomic():
        assert schema_read_lock(channel) == seen[-1] == channel.profile_schema_version


@pytest.mark.django_db
def test_saving_a_channel_loaded_before_a_field_change_keeps_the_new_version() -> None:
    channel = channel_provision(name="Stale copy")
    stale = Channel.objects.get(pk=channel.pk)
    field = profile_field_create(channel=channel, key="code", name="Code", type=FieldType.NUMBER)
    profile_values_clean(channel=Channel.objects.get(pk=channel.pk), values={"code": 7})
    cached = stored_version(channel)  # the Number definition is cached under this version
    profile_field_type_change(field=field, type=FieldType.STRING)
    switched = stored_version(channel)

    stale.name = "Renamed"
    stale.save()  # every column of the old copy goes back; the version is not one of them

    assert stored_version(channel) == switched != cached
    with transaction.atomic():
        writer = Channel.objects.get(pk=channel.pk)
        schema_read_lock(writer)
        assert profile_values_clean(channel=writer, values={"code": "abc"}) == {"code": "abc"}


@pytest.mark.django_db
def test_a_deleted_channels_version_goes_with_it() -> None:
    channel = channel_provision(name="Short-lived")
    profile_field_create(channel=channel, key="code", name="Code", type=FieldType.STRING)
    assert stored_version(channel) > 0

    Channel.objects.filter(pk=channel.pk).delete()

    assert stored_version(channel) == 0
    with transaction.atomic(), pytest.raises(ChannelGone):
        schema_read_lock(channel)
