"""The field object of /open/v5/profile-fields and the strict bodies its writes take."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from crm.api import StrictSerializer
from crm.openapi import JsonBooleanField, JsonIntegerField, JsonStringField
from profile_schema.models import PROFILE_PREFIX, FieldType, Masking, ProfileField
from profile_schema.services import NAME_MAX_LENGTH, PROFILE_KEY
from profile_schema.types import TYPES

KEY_RULE = (
    "A data key is camelCase letters and digits, starting with a lowercase letter, at most 63 "
    "characters (e.g. 'profile.birthDate' or 'birthDate')."
)
_TYPE_CHOICES: dict[str, Any] = {
    "invalid_choice": f'"{{input}}" is not a type; types: {", ".join(FieldType)}.'
}
_MASKING_CHOICES: dict[str, Any] = {
    "invalid_choice": f'"{{input}}" is not a masking; {", ".join(Masking)}.'
}
_INDEXED_HELP = (
    "A per-key index for ranges and sorting on this key (String, Number, Date, Datetime "
    "profile fields), built in the background after the change."
)


class FieldTypeField(serializers.ChoiceField):
    """A field type; a wrong one is refused naming the types there are."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=FieldType.values, error_messages=_TYPE_CHOICES, **kwargs)


class ProfileFieldSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The full key: `profile.age`, or `lastSeenAt`.")
    name = serializers.CharField()
    type = FieldTypeField()
    sensitive = serializers.BooleanField()
    masking = serializers.ChoiceField(choices=Masking.values)
    shownInProfile = serializers.BooleanField(source="shown_in_profile")
    order = serializers.IntegerField()
    builtIn = serializers.BooleanField(source="built_in")
    indexed = serializers.BooleanField(help_text=_INDEXED_HELP)


class ProfileFieldEnvelopeSerializer(serializers.Serializer):
    profileField = ProfileFieldSerializer()


class ProfileFieldListSerializer(serializers.Serializer):
    profileFields = ProfileFieldSerializer(many=True)


class ProfileFieldCreateSerializer(StrictSerializer):
    key = JsonStringField(help_text="camelCase letters and digits: `profile.birthDate`.")
    name = JsonStringField(max_length=NAME_MAX_LENGTH)
    type = FieldTypeField()
    sensitive = JsonBooleanField(default=False)
    masking = serializers.ChoiceField(
        choices=Masking.values, default=Masking.FULL, error_messages=_MASKING_CHOICES
    )
    shownInProfile = JsonBooleanField(source="shown_in_profile", default=True)
    indexed = JsonBooleanField(default=False, help_text=_INDEXED_HELP)
    fixed = {
        "order": "a new field is placed last; PATCH its order afterwards.",
        "builtIn": "only the system defines built-in fields.",
    }

    def validate_key(self, key: str) -> str:
        # Checked here too so that a bad key is listed with the body's other problems.
        if not PROFILE_KEY.match(key.strip().removeprefix(PROFILE_PREFIX)):
            raise serializers.ValidationError(KEY_RULE, code="invalid")
        return key

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return masking_check(attrs)


class ProfileFieldUpdateSerializer(StrictSerializer):
    name = JsonStringField(max_length=NAME_MAX_LENGTH, required=False)
    type = FieldTypeField(
        required=False,
        help_text="Converts the stored values; refused (409) when some would not convert.",
    )
    sensitive = JsonBooleanField(required=False)
    masking = serializers.ChoiceField(
        choices=Masking.values, required=False, error_messages=_MASKING_CHOICES
    )
    shownInProfile = JsonBooleanField(source="shown_in_profile", required=False)
    order = JsonIntegerField(min_value=0, max_value=2**31 - 1, required=False)
    indexed = JsonBooleanField(required=False, help_text=_INDEXED_HELP)
    fixed = {
        "key": "a data key cannot be changed once created.",
        "builtIn": "whether a field is built in cannot be changed.",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return masking_check(attrs)


def masking_check(attrs: dict[str, Any]) -> dict[str, Any]:
    """Refuse a masking that the type given with it does not support (the type registry), so
    that it is listed with the body's other problems."""
    type_, masking = attrs.get("type"), attrs.get("masking")
    if type_ and masking and Masking(masking) not in TYPES[type_].maskings:
        allowed = " or ".join(TYPES[type_].maskings)
        message = f"A {type_} field masks {allowed}; partial masking is for string fields."
        raise serializers.ValidationError({"masking": [message]}, code="invalid")
    return attrs


def field_object(field: ProfileField) -> dict[str, Any]:
    """FIELD as the API's field object."""
    return dict(ProfileFieldSerializer(field).data)
