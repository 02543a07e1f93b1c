"""The field object and the strict bodies of /open/v5/profile-fields."""

from __future__ import annotations

from typing import Any

import pytest

from crm.models import Channel
from profile_schema.models import FieldType
from profile_schema.serializers import (
    KEY_RULE,
    ProfileFieldCreateSerializer,
    ProfileFieldUpdateSerializer,
    field_object,
)
from tests.profile_schema.factories import field_in


def errors_of(serializer: Any) -> dict[str, list[str]]:
    assert not serializer.is_valid()
    return {key: [str(m) for m in messages] for key, messages in serializer.errors.items()}


@pytest.mark.django_db
def test_a_field_object_names_every_attribute_in_camel_case(channel: Channel) -> None:
    field = field_in(channel, "shoeSize", FieldType.NUMBER, sensitive=True, indexed=True)

    assert field_object(field) == {
        "key": "profile.shoeSize",
        "name": "shoeSize",
        "type": "number",
        "sensitive": True,
        "masking": "full",
        "shownInProfile": True,
        "order": field.order,
        "builtIn": False,
        "indexed": True,
    }


def test_a_create_body_takes_defaults_for_what_it_leaves_out() -> None:
    body = ProfileFieldCreateSerializer(
        data={"key": "birthDate", "name": "Birth date", "type": "date"}
    )

    assert body.is_valid()
    assert dict(body.validated_data) == {
        "key": "birthDate",
        "name": "Birth date",
        "type": "date",
        "sensitive": False,
        "masking": "full",
        "shown_in_profile": True,
        "indexed": False,
    }


def test_a_create_body_lists_every_problem() -> None:
    body = ProfileFieldCreateSerializer(
        data={"key": "Birth_date", "name": 7, "type": "money", "sensitive": "yes", "order": 2}
    )

    assert errors_of(body) == {
        "key": [KEY_RULE],
        "name": ["Not a valid string."],
        "type": [
            '"money" is not a type; types: boolean, string, number, date, datetime, list, '
            "listOfNumber."
        ],
        "sensitive": ["Must be true or false."],
        "order": ["a new field is placed last; PATCH its order afterwards."],
    }


def test_a_masking_the_type_given_with_it_cannot_take_is_refused() -> None:
    body = ProfileFieldUpdateSerializer(data={"type": "number", "masking": "partial"})

    assert errors_of(body) == {
        "masking": ["A number field masks full; partial masking is for string fields."]
    }


def test_an_update_body_takes_only_what_it_is_given() -> None:
    body = ProfileFieldUpdateSerializer(data={"shownInProfile": False, "order": 4})

    assert body.is_valid()
    assert dict(body.validated_data) == {"shown_in_profile": False, "order": 4}
    assert errors_of(ProfileFieldUpdateSerializer(data={"order": "4", "key": "x"})) == {
        "order": ["A valid integer is required."],
        "key": ["a data key cannot be changed once created."],
    }
