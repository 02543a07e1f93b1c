"""API plumbing the /open/v5 endpoints share: the OpenAPI description of rate-limit headers and
error responses, strict JSON fields, and the refusals built from a service's errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.response import Response

from crm.api import API_PATHS, ApiErrorSerializer, error_response
from crm.errors import InvalidInput, Problem

COUNT_HEADER = "x-contacts-count"
_STATUS_TEXT = {
    400: "Refused input: every problem is listed under `errors`; nothing changed.",
    401: "Missing or wrong credentials.",
    403: "The role lacks the permission this needs; nothing changed.",
    404: "Nothing of that name in this channel.",
    409: "The data is in the way (see the message); nothing changed.",
    413: "The body is longer than the server reads (DATA_UPLOAD_MAX_MEMORY_SIZE); nothing changed.",
    415: "The body is not UTF-8 JSON (Content-Type: application/json); nothing changed.",
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


def unavailable_documented(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: every /open/v5 and /sdk/v1 operation may answer
    503 with Retry-After while the database cannot be reached (crm.outage)."""
    answer = {
        "description": (
            "service_unavailable: the database cannot be reached; retry after the Retry-After"
            " header's seconds. A write whose connection was cut as it committed may have been"
            " saved."
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
    }
    for path, operations in result["paths"].items():
        if not path.startswith(API_PATHS):
            continue
        for operation in operations.values():
            operation["responses"].setdefault("503", answer)
    return result


def body_refusals_document(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """drf-spectacular hook: every operation that takes a body documents the refusals of the
    body parser (crm.json_input): 400 for what it cannot read, 413 and 415."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            for code in (400, 413, 415):
                described = {**error, "description": _STATUS_TEXT[code]}
                operation["responses"].setdefault(str(code), described)
    return result


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
