"""Text PostgreSQL cannot store: NUL characters and lone UTF-16 surrogates.

They are refused at the door (a 400 naming the problem), so no write path or lookup ever
reaches the database with them and turns them into a server error."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.parsers import JSONParser

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether TEXT holds a character PostgreSQL text and jsonb cannot hold."""
    return bool(_UNSTORABLE.search(text))


def first_unstorable_path(data: Any, path: str = "") -> str | None:
    """The path of the first key or string in DATA that cannot be stored, else None."""
    if isinstance(data, str):
        return path or "body" if unstorable(data) else None
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if unstorable(str(key)):
                return where
            found = first_unstorable_path(value, where)
            if found:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = first_unstorable_path(value, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


class StorableJSONParser(JSONParser):
    """JSON bodies whose every key and string can be stored."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        where = first_unstorable_path(data)
        if where:
            message = "holds a NUL character or a lone surrogate, which cannot be stored."
            raise ValidationError({where: [ErrorDetail(message, code="invalid_character")]})
        return data


class StorableRequestMiddleware:
    """Refuse a path or query string holding NUL or a lone surrogate with a clear 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = " ".join(f"{k}={v}" for k, values in request.GET.lists() for v in values)
        if unstorable(request.path) or unstorable(query):
            message = "The address holds a NUL character or a lone surrogate, which cannot be used."
            return JsonResponse(
                {
                    "type": "validation_error",
                    "message": message,
                    "errors": [{"key": "url", "code": "invalid_character", "message": message}],
                },
                status=400,
            )
        return self.get_response(request)
