"""/open/v5/profile-fields: the channel's field definitions (docs/api.md), with `indexed`.

Where docs/api.md is silent: a list answers `{"profileFields": [...]}` (every field, built-in
ones too, by order then key, in one page: no query parameter is taken) and one field
`{"profileField": {...}}`; bodies are strict (an unknown or read-only key is a 400). Keys in
paths are full keys (`profile.age`, `lastSeenAt`); another channel's key is a 404. PATCH is one
atomic change (profile_field_change_start): a refused request changes nothing, and a type change
that stored values block is a 409 `conflict` naming the count of blocking contacts (also in
`x-contacts-count`); a type change answers 202 with the `typeChange` job converting the values,
any other change 200 with the field. DELETE needs `?confirmCount=N`, the contacts holding a
value now (without it or with a stale count, a 409 naming the current count), and answers 202
with the `fieldDelete` job. While one of those jobs works on a field, a delete or type change
of it is a 409 naming the job.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import query_check
from crm.api_auth import OpenApiView
from crm.errors import InvalidInput, Problem
from crm.jobs.api import JOB_ACCEPTED, job_accepted
from crm.openapi import conflict, count_header, error_responses, invalid_input, rate_limit_headers
from crm.permissions import Permission
from profile_schema import services
from profile_schema.models import ProfileField
from profile_schema.selectors import profile_field_of, profile_fields_of
from profile_schema.serializers import (
    ProfileFieldCreateSerializer,
    ProfileFieldEnvelopeSerializer,
    ProfileFieldListSerializer,
    ProfileFieldSerializer,
    ProfileFieldUpdateSerializer,
    field_object,
)

SERVICE_NAMES = {"shown_in_profile": "shownInProfile", "confirm_count": "confirmCount"}
_TAGS = ["profile fields"]
_READ_HEADERS = rate_limit_headers([200, 400, 404])
_WRITE_HEADERS = rate_limit_headers([200, 201, 202, 400, 404, 409, 415])
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
        fields = profile_fields_of(viewer=self.viewer)
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
                channel=self.viewer.channel, viewer=self.viewer, **body.validated_data
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
        return Response(
            {"profileField": field_object(profile_field_of(viewer=self.viewer, key=key))}
        )

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
            **JOB_ACCEPTED,
            **error_responses(400, 401, 403, 404, 409, 415, 429),
        },
    )
    def patch(self, request: Request, key: str) -> Response:
        """Rename, retype, reorder, flag or index a field (needs `general_settings`); a new type
        answers 202 with the job converting the stored values."""
        query_check(request)
        field = profile_field_of(viewer=self.viewer, key=key)
        body = ProfileFieldUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            job = services.profile_field_change_start(
                field=field, requested_by=self.viewer, **body.validated_data
            )
        except services.TypeChangeBlocked as blocked:
            message = " ".join(blocked.messages)
            return conflict(message, key="type", code="type_change_blocked", count=blocked.count)
        except ValidationError as error:
            raise invalid_input(error, SERVICE_NAMES) from error
        if job is not None:
            return job_accepted(job)
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
        responses={**JOB_ACCEPTED, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def delete(self, request: Request, key: str) -> Response:
        """Delete a field and its values, confirming how many contacts hold one: a
        `fieldDelete` job removes the values, then the field."""
        query_check(request, ("confirmCount",))
        field = profile_field_of(viewer=self.viewer, key=key)
        confirmed = _confirm_count(request)
        try:
            job = services.profile_field_delete_start(
                field=field, confirm_count=confirmed, requested_by=self.viewer
            )
        except services.StaleConfirmation as stale:
            return _unconfirmed(field, stale) if confirmed is None else _stale(stale)
        except ValidationError as error:
            raise invalid_input(error, SERVICE_NAMES) from error
        return job_accepted(job)


def _unconfirmed(field: ProfileField, stale: services.StaleConfirmation) -> Response:
    message = (
        f"{stale.count} contacts hold a value of {field.key}; deleting the field removes "
        f"them. Confirm with ?confirmCount={stale.count}."
    )
    return conflict(message, key="confirmCount", code="confirmation_required", count=stale.count)


def _stale(stale: services.StaleConfirmation) -> Response:
    message = " ".join(stale.messages)
    return conflict(message, key="confirmCount", code="stale_confirmation", count=stale.count)


def _confirm_count(request: Request) -> int | None:
    text = request.query_params.get("confirmCount")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        message = f"confirmCount must be a whole number of contacts, 0 or more; got {text!r}."
        raise InvalidInput([Problem("confirmCount", "invalid", message)])
    return int(text)
