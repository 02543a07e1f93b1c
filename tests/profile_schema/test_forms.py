"""The admin forms validate and write nothing; a service's refusal is shown on them (as
crm.admin_refusals shows it on every admin form)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from crm.admin_refusals import form_refused
from crm.models import Channel
from profile_schema.forms import ProfileFieldAddForm, ProfileFieldChangeForm
from profile_schema.models import FieldType, ProfileField
from tests.profile_schema.factories import field_in


def definitions(channel: Channel) -> list[tuple[Any, ...]]:
    rows = ProfileField.objects.filter(channel=channel).order_by("key")
    return list(rows.values_list("key", "name", "type", "masking", "indexed", "order"))


@pytest.mark.django_db
def test_a_valid_add_form_writes_nothing(channel: Channel) -> None:
    before = definitions(channel)
    data = {"channel": channel.pk, "key": "profile.email", "name": "E", "type": "number"}
    form = ProfileFieldAddForm(data={**data, "masking": "partial"})

    # The key taken and the masking a number cannot take are the service's to refuse.
    assert form.is_valid(), form.errors
    assert form.cleaned_data["key"] == "profile.email"
    assert definitions(channel) == before


@pytest.mark.django_db
def test_the_change_form_leaves_the_field_as_stored_for_the_service(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    before, order = definitions(channel), field.order
    data = {"name": "Years", "masking": "full", "order": 3, "indexed": "on"}

    form = ProfileFieldChangeForm(data=data, instance=field)

    assert form.is_valid(), form.errors
    assert form.stored is field
    assert (field.name, field.indexed, field.order) == ("age", False, order)
    assert definitions(channel) == before


@pytest.mark.django_db
def test_a_refusal_is_shown_at_its_field_or_above_the_form(channel: Channel) -> None:
    data = {"name": "A", "masking": "full", "order": 0}
    assert ProfileFieldChangeForm(data=data).is_valid()

    refusal = {"masking": ["Not for numbers."], "type": ["Blocked by 2 contacts."]}
    form = form_refused(ProfileFieldChangeForm, ValidationError(refusal))(data=data)

    assert not form.is_valid()
    assert form.errors == {"masking": ["Not for numbers."], "__all__": ["Blocked by 2 contacts."]}
