"""API plumbing shared by /open/v5 and /sdk/v1: one error shape everywhere (docs/api.md, Errors),
and the x-ratelimit-* headers on every answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.connection_loss import RETRY_AFTER_S, UNAVAILABLE_MESSAGE, connection_lost
from crm.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    PayloadTooLarge,
    PlanRequired,
    Problem,
    RateLimited,
)
from crm.ids import id_parse
from crm.ratelimit import RateDecision

STATUS_TYPES = {
    400: "validation_error",
    401: "authentication_failed",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}
ERROR_TYPES = sorted({*STATUS_TYPES.values(), "plan_required"})
# Where answers are JSON in the error shape, whoever answers (a view, or crm.outage).
API_PATHS = ("/open/v5/", "/sdk/v1/")


def error_body(
    status_code: int, message: str, problems: list[Problem] | None = None, kind: str = ""
) -> dict[str, Any]:
    """The error body (docs/api.md, Errors): type, a sentence, and every problem found."""
    return {
        "type": kind or STATUS_TYPES.get(status_code, "error"),
        "message": message,
        "errors": [{"key": p.key, "code": p.code, "message": p.message} for p in problems or []],
    }


def error_response(
    status_code: int, message: str, problems: list[Problem] | None = None, **extra: Any
) -> Response:
    """A refusal in the error body; EXTRA: `type` (else the status's), Response's arguments."""
    body = error_body(status_code, message, problems, extra.pop("type", ""))
    return Response(body, status=status_code, **extra)


def unavailable_headers() -> dict[str, str]:
    """The headers of a 503 for a database that cannot be reached."""
    return {"Retry-After": str(RETRY_AFTER_S)}


def _flatten(detail: Any, prefix: str = "") -> Iterator[Problem]:
    """DRF's nested error details as problems keyed by path ("page.url", "tags.2")."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            yield from _flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            for item in detail:
                yield Problem(prefix or "body", item.code or "invalid", _sentence(prefix, item))
        else:
            for index, item in enumerate(detail):
                yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield Problem(
            prefix or "body", getattr(detail, "code", "invalid"), _sentence(prefix, detail)
        )


def _django_messages(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return dict(exc.message_dict)
    return {"__all__": list(exc.messages)}


def _sentence(key: str, detail: Any) -> str:
    text = str(detail)
    return f"{key}: {text}" if key else text


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn every refusal into the API error shape, and a lost database connection into a 503
    with Retry-After (crm.connection_loss); anything else stays a 500."""
    if isinstance(exc, exceptions.APIException):
        return _drf_refusal(exc)
    if connection_lost(exc):
        return error_response(503, UNAVAILABLE_MESSAGE, headers=unavailable_headers())
    return _refusal(exc)


def _refusal(exc: Exception) -> Response | None:
    if isinstance(exc, InvalidInput):
        return error_response(400, exc.message, exc.problems)
    if isinstance(exc, PayloadTooLarge):
        return error_response(413, exc.message, [Problem("body", "payload_too_large", exc.message)])
    if isinstance(exc, PlanRequired):
        return error_response(403, exc.message, type="plan_required")
    if isinstance(exc, Conflict):
        return error_response(409, exc.message, exc.problems)
    if isinstance(exc, AuthenticationFailed):
        return error_response(401, exc.message)
    if isinstance(exc, RateLimited):
        return error_response(429, str(exc), headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, Http404):
        return error_response(404, "Not found.")
    if isinstance(exc, DjangoValidationError):
        problems = [
            Problem(key if key != "__all__" else "body", "invalid", message)
            for key, messages in _django_messages(exc).items()
            for message in messages
        ]
        return error_response(400, "; ".join(p.message for p in problems), problems)
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(403, str(exc) or "You do not have permission to do this.")
    return None


def _drf_refusal(exc: exceptions.APIException) -> Response:
    if isinstance(exc, exceptions.ValidationError):
        problems = list(_flatten(exc.detail))
        return error_response(400, "; ".join(p.message for p in problems), problems)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        message = f"{exc.detail} Send the body as UTF-8 JSON (Content-Type: application/json)."
        problem = Problem("body", "unsupported_media_type", message)
        return error_response(415, message, [problem])
    if isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None) or 1
        return error_response(429, str(exc.detail), headers={"Retry-After": str(int(wait))})
    return error_response(exc.status_code, str(exc.detail))


class ProblemSerializer(serializers.Serializer):
    key = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class ApiErrorSerializer(serializers.Serializer):
    """The error body of every refusal (docs/api.md, Errors)."""

    type = serializers.ChoiceField(choices=ERROR_TYPES)
    message = serializers.CharField()
    errors = ProblemSerializer(many=True)  # type: ignore[assignment]


REFUSAL_DESCRIPTIONS = {
    400: "validation_error: every problem is listed under errors; nothing was changed.",
    401: "authentication_failed: missing or wrong x-access-key / x-access-secret.",
    403: "permission_denied: the role lacks the permission this needs.",
    404: "not_found: nothing with that id in this channel.",
    409: "conflict: the request clashes with the current state; nothing was changed.",
    429: "rate_limited: retry after the Retry-After header's seconds.",
}


def refusals(*codes: int, always: tuple[int, ...] = (401, 403, 429)) -> dict[int, OpenApiResponse]:
    """OpenAPI error responses for CODES in the error shape (plus ALWAYS: 401, 403, 429)."""
    return {
        code: OpenApiResponse(ApiErrorSerializer, description=REFUSAL_DESCRIPTIONS[code])
        for code in sorted({*codes, *always})
    }


def sdk_refusals() -> dict[int, OpenApiResponse]:
    """The refusals of every /sdk/v1 call: bad input, bad key or token, rate limit."""
    return refusals(400, 401, 429, always=())


def query_check(request: Request, allowed: tuple[str, ...] = ()) -> None:
    """Refuse query parameters this endpoint does not take, rather than ignore them."""
    unknown = sorted(set(request.query_params) - set(allowed))
    takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
    if unknown:
        raise InvalidInput(
            Problem(name, "unknown_parameter", f"{name} is not a query parameter here; {takes}.")
            for name in unknown
        )


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not take (listed with the other problems) instead of dropping them."""

    fixed: Mapping[str, str] = {}  # keys that exist but cannot be sent here -> why

    def to_internal_value(self, data: Any) -> Any:
        writable = [name for name, field in self.fields.items() if not field.read_only]
        unknown = {
            name: [serializers.ErrorDetail(self._why(name, writable), code="unknown_field")]
            for name in (data if isinstance(data, Mapping) else {})
            if name not in writable
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value

    def _why(self, name: str, writable: list[str]) -> str:
        return self.fixed.get(name) or f"not a field here; fields: {', '.join(writable)}."


PAGE_LIMIT_DEFAULT = 25
PAGE_LIMIT_MAX = 500


def epoch_ms(value: datetime | None) -> int | None:
    """A timestamp as integer epoch milliseconds (the API's convention)."""
    return None if value is None else int(value.timestamp() * 1000)


def page_limit(raw: object) -> int:
    """?limit= of every list: a whole number from 1 to 500, 25 when absent."""
    if raw is None or raw == "":
        return PAGE_LIMIT_DEFAULT
    limit = id_parse(raw)
    if limit is None or limit > PAGE_LIMIT_MAX:
        message = f"limit is a whole number from 1 to {PAGE_LIMIT_MAX}; received {str(raw)!r}."
        raise InvalidInput([Problem("limit", "invalid", message)])
    return limit


class RateLimitedView(APIView):
    """A view that reports the rate-limit decision it made for the request (`rate`) in the
    x-ratelimit-* headers of its answer, refusals included."""

    rate: RateDecision | None = None

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if self.rate is not None:
            response["x-ratelimit-limit"] = str(self.rate.limit)
            response["x-ratelimit-remaining"] = str(self.rate.remaining)
            response["x-ratelimit-reset"] = str(self.rate.reset)
        return super().finalize_response(request, response, *args, **kwargs)
