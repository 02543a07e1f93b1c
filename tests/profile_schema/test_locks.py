"""A value validated under the old field definitions never commits after a schema switch."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from contacts.models import Contact
from crm import services
from profile_schema.locks import schema_read_lock
from profile_schema.models import FieldType, ProfileField
from profile_schema.services import profile_field_create, profile_field_type_change
from profile_schema.validation import profile_values_clean


@pytest.mark.django_db(transaction=True)
def test_a_type_change_waits_for_a_write_validated_under_the_old_type() -> None:
    channel = services.channel_create(name="Race")
    field = profile_field_create(channel=channel, key="code", name="Code", type=FieldType.STRING)
    contact = Contact.objects.create(channel=channel, profile={})
    validated = threading.Event()
    outcome: list[str] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                schema_read_lock(channel_id=channel.pk)
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

    threads = [threading.Thread(target=writer), threading.Thread(target=switcher)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcome == ["refused: 1"]  # the write landed first, and "abc" is no number
    assert Contact.objects.get(pk=contact.pk).profile == {"code": "abc"}
    assert ProfileField.objects.get(pk=field.pk).type == FieldType.STRING
