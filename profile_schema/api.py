"""/open/v5/profile-fields: the channel's field definitions (API.md), plus the `indexed` flag.

Decisions where API.md is silent:
- A field object is `{"key", "name", "type", "sensitive", "masking", "shownInProfile", "order",
  "builtIn", "indexed"}`; a list answers `{"profileFields": [...]}` and one field
  `{"profileField": {...}}`, as the users endpoints wrap theirs. The list holds every field of
  the channel (built-in ones too, about 50 plus the channel's own; a few hundred at most), by
  order then key, in one page: it takes no `limit` or `since`, and any query parameter is
  refused rather than ignored. Bodies are strict too: an unknown or read-only key is a 400.
- Keys in paths are full keys (`profile.age`, `lastSeenAt`); another channel's key is a 404.
  POST takes `key` as `profile.birthDate` or `birthDate`.
- PATCH takes any of name, type, sensitive, masking, shownInProfile, order, indexed. With
  `type`, the other changes are checked against the new type first, then the type changes
  (profile_field_type_change, converting stored values in batches), then the rest is saved, so
  a refused request changes nothing. A type change that stored values block is a 409
  `conflict` (the data, not the request, is in the way), naming the count of blocking contacts
  in the message and in the `x-contacts-count` header.
- DELETE needs `?confirmCount=N`, the number of contacts holding a value now; without it, or
  with a stale count, it is a 409 `conflict` naming the current count (also in
  `x-contacts-count`), and nothing is deleted. Built-in fields cannot be deleted (400).
- `indexed: true` asks for a per-key index (profile_schema.indexes), built in the background;
  the flag reads true at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import ApiErrorSerializer, StrictSerializer, error_response, query_check
from crm.api_auth import OpenApiView
from crm.errors import InvalidInput, Problem
from crm.permissions import Permission, Viewer
from profile_schema import services
from profile_schema.models import FieldType, Masking, ProfileField
from profile_schema.types import TYPES

# -- API plumbing these endpoints share with contacts.api.tags (candidates for crm.api) ----------

COUNT_HEADER = "x-contacts-count"
_STATUS_TEXT = {
    400: "Refused input: every problem is listed under `errors`; nothing changed.",
    401: "Missing or wrong credentials.",
    403: "The role lacks the permission this needs; nothing changed.",
    404: "Nothing of that name in this channel.",
    409: "The data is in the way (see the message); nothing changed.",
    415: "The body is not JSON.",
    429: "Too many requests; retry after `Retry-After` seconds.",
}


def rate_limit_headers(codes: list[int]) -> list[OpenApiParameter]:
    """The x-ratelimit-* response headers of CODES (and 429), sent once a request passed
    authentication and the permission check; Retry-After on a 429."""
    described = {
        "x-ratelimit-limit": "Requests allowed in the window.",
        "x-ratelimit-remaining": "Requests left in the window.",
        "x-ratelimit-reset": "Seconds until the window resets.",
    }
    codes = [*codes, 429]
    return [
        *(
            OpenApiParameter(name, int, OpenApiParameter.HEADER, description=text, response=codes)
            for name, text in described.items()
        ),
        OpenApiParameter(
            "Retry-After", int, OpenApiParameter.HEADER, description="Seconds.", response=[429]
        ),
    ]


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of an operation, each in the one error shape."""
    return {code: OpenApiResponse(ApiErrorSerializer, _STATUS_TEXT[code]) for code in codes}


def count_header(description: str) -> OpenApiParameter:
    """The x-contacts-count header of a 409."""
    return OpenApiParameter(
        COUNT_HEADER, int, OpenApiParameter.HEADER, description=description, response=[409]
    )


def invalid_input(error: ValidationError, names: Mapping[str, str] | None = None) -> InvalidInput:
    """A service's ValidationError as an API 400, keys renamed by NAMES, every problem kept."""
    names = names or {}
    if not hasattr(error, "error_dict"):
        return InvalidInput(
            Problem("body", item.code or "invalid", message)
            for item in error.error_list
            for message in item.messages
        )
    return InvalidInput(
        Problem(names.get(name, "body" if name == "__all__" else name), item.code or "invalid", m)
        for name, items in error.error_dict.items()
        for item in items
        for m in item.messages
    )


def conflict(message: str, *, key: str, code: str, count: int) -> Response:
    """A 409 naming COUNT in the message, the problem and the x-contacts-count header."""
    response = error_response(409, message, [Problem(key, code, message)])
    response[COUNT_HEADER] = str(count)
    return response


class JsonBooleanField(serializers.BooleanField):
    """true or false, as JSON booleans only (no "yes", 1 or "true")."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class JsonIntegerField(serializers.IntegerField):
    """A JSON integer (not a string, a bool or a fraction)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class JsonStringField(serializers.CharField):
    """A JSON string (a number is not taken for one)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


# -- profile fields -----------------------------------------------------------------------------

KEY_RULE = (
    "A data key is camelCase letters and digits, starting with a lowercase letter, at most 63 "
    "characters (e.g. 'profile.birthDate' or 'birthDate')."
)
SERVICE_NAMES = {"shown_in_profile": "shownInProfile", "confirm_count": "confirmCount"}
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
    name = JsonStringField(max_length=services.NAME_MAX_LENGTH)
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
        if not services.PROFILE_KEY.match(key.strip().removeprefix(services.PROFILE_PREFIX)):
            raise serializers.ValidationError(KEY_RULE, code="invalid")
        return key

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return masking_check(attrs)


class ProfileFieldUpdateSerializer(StrictSerializer):
    name = JsonStringField(max_length=services.NAME_MAX_LENGTH, required=False)
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
    """Refuse a masking that the type given with it does not support (the type registry)."""
    type_, masking = attrs.get("type"), attrs.get("masking")
    if type_ and masking and Masking(masking) not in TYPES[type_].maskings:
        allowed = " or ".join(TYPES[type_].maskings)
        message = f"A {type_} field masks {allowed}; partial masking is for string fields."
        raise serializers.ValidationError({"masking": [message]}, code="invalid")
    return attrs


def profile_fields_of(viewer: Viewer) -> Any:
    """The viewer's channel's fields, by order then key (the one channel scope of this API)."""
    return ProfileField.objects.filter(channel=viewer.channel).order_by("order", "key")


def profile_field_of(viewer: Viewer, key: str) -> ProfileField:
    """The viewer's channel's field with the full KEY; 404 when there is none."""
    field = profile_fields_of(viewer).filter(key=key).first()
    if field is None:
        raise Http404(f"No field {key} in this channel.")
    return field


def field_object(field: ProfileField) -> dict[str, Any]:
    """FIELD as the API's field object."""
    return dict(ProfileFieldSerializer(field).data)


def _flags_check(field: ProfileField, flags: dict[str, Any], type_: str) -> None:
    """Refuse FLAGS as the field would take them once of TYPE_; changes nothing."""

    class _Checked(Exception):
        pass

    try:
        with transaction.atomic():
            probe = ProfileField.objects.get(pk=field.pk)
            probe.type = type_
            services.profile_field_update(field=probe, **flags)
            raise _Checked  # rolls the probe's save back (and drops its on-commit hooks)
    except _Checked:
        pass


_TAGS = ["profile fields"]
_READ_HEADERS = rate_limit_headers([200, 400, 404])
_WRITE_HEADERS = rate_limit_headers([200, 201, 204, 400, 404, 409, 415])
_CONFIRM = OpenApiParameter(
    "confirmCount",
    int,
    OpenApiParameter.QUERY,
    required=True,
    description="How many contacts hold a value of the field now, as shown to the person "
    "confirming (a 409 without it names the count).",
)
_KEY = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, description="The full key: `profile.age`, `lastSeenAt`."
)


class ProfileFieldListView(OpenApiView):
    permissions_by_method = {
        "GET": Permission.CONTACTS_VIEW,
        "HEAD": Permission.CONTACTS_VIEW,
        "POST": Permission.GENERAL_SETTINGS,
    }

    @extend_schema(
        operation_id="profile_fields_list",
        tags=_TAGS,
        parameters=_READ_HEADERS,
        responses={200: ProfileFieldListSerializer, **error_responses(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        """Every field of the channel, built-in ones included, by order then key (one page)."""
        query_check(request)
        fields = profile_fields_of(self.viewer)
        return Response({"profileFields": ProfileFieldSerializer(fields, many=True).data})

    @extend_schema(
        operation_id="profile_fields_create",
        tags=_TAGS,
        parameters=_WRITE_HEADERS,
        request=ProfileFieldCreateSerializer,
        responses={
            201: ProfileFieldEnvelopeSerializer,
            **error_responses(400, 401, 403, 415, 429),
        },
    )
    def post(self, request: Request) -> Response:
        """Define a profile field (needs `general_settings`); it is placed last."""
        query_check(request)
        body = ProfileFieldCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            field = services.profile_field_create(
                channel=self.viewer.channel, **body.validated_data
            )
        except ValidationError as error:
            raise invalid_input(error, SERVICE_NAMES) from error
        return Response({"profileField": field_object(field)}, status=201)


class ProfileFieldDetailView(OpenApiView):
    permissions_by_method = {
        "GET": Permission.CONTACTS_VIEW,
        "HEAD": Permission.CONTACTS_VIEW,
        "PATCH": Permission.GENERAL_SETTINGS,
        "DELETE": Permission.GENERAL_SETTINGS,
    }

    @extend_schema(
        operation_id="profile_fields_get",
        tags=_TAGS,
        parameters=[_KEY, *_READ_HEADERS],
        responses={200: ProfileFieldEnvelopeSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request, key: str) -> Response:
        """One field of the channel."""
        query_check(request)
        return Response({"profileField": field_object(profile_field_of(self.viewer, key))})

    @extend_schema(
        operation_id="profile_fields_update",
        tags=_TAGS,
        parameters=[
            _KEY,
            *_WRITE_HEADERS,
            count_header("How many contacts hold a value that would not convert."),
        ],
        request=ProfileFieldUpdateSerializer,
        responses={
            200: ProfileFieldEnvelopeSerializer,
            **error_responses(400, 401, 403, 404, 409, 415, 429),
        },
    )
    def patch(self, request: Request, key: str) -> Response:
        """Rename, retype, reorder, flag or index a field (needs `general_settings`)."""
        query_check(request)
        field = profile_field_of(self.viewer, key)
        body = ProfileFieldUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        flags = dict(body.validated_data)
        new_type = flags.pop("type", field.type)
        try:
            if new_type != field.type:
                if flags:
                    _flags_check(field, flags, new_type)
                services.profile_field_type_change(field=field, type=new_type)
            services.profile_field_update(field=field, **flags)
        except services.TypeChangeBlocked as blocked:
            message = " ".join(blocked.messages)
            return conflict(message, key="type", code="type_change_blocked", count=blocked.count)
        except ValidationError as error:
            raise invalid_input(error, SERVICE_NAMES) from error
        return Response({"profileField": field_object(field)})

    @extend_schema(
        operation_id="profile_fields_delete",
        tags=_TAGS,
        parameters=[
            _KEY,
            _CONFIRM,
            *_WRITE_HEADERS,
            count_header("How many contacts hold a value now: the count to confirm."),
        ],
        responses={
            204: OpenApiResponse(description="Deleted, with its values."),
            **error_responses(400, 401, 403, 404, 409, 429),
        },
    )
    def delete(self, request: Request, key: str) -> Response:
        """Delete a field and its values, confirming how many contacts hold one."""
        query_check(request, ("confirmCount",))
        field = profile_field_of(self.viewer, key)
        confirmed = _confirm_count(request)
        try:
            if confirmed is None and not field.built_in:
                count = services.profile_field_delete_preview(field=field)
                message = (
                    f"{count} contacts hold a value of {field.key}; deleting the field removes "
                    f"them. Confirm with ?confirmCount={count}."
                )
                return conflict(
                    message, key="confirmCount", code="confirmation_required", count=count
                )
            services.profile_field_delete(field=field, confirm_count=confirmed or 0)
        except services.StaleConfirmation as stale:
            message = " ".join(stale.messages)
            return conflict(
                message, key="confirmCount", code="stale_confirmation", count=stale.count
            )
        except ValidationError as error:
            raise invalid_input(error, SERVICE_NAMES) from error
        return Response(status=204)


def _confirm_count(request: Request) -> int | None:
    text = request.query_params.get("confirmCount")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        message = f"confirmCount must be a whole number of contacts, 0 or more; got {text!r}."
        raise InvalidInput([Problem("confirmCount", "invalid", message)])
    return int(text)
