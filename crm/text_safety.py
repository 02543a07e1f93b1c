"""Text PostgreSQL cannot store: NUL characters and lone UTF-16 surrogates.

They are refused at the door (a 400 naming the problem), so no write path or lookup ever
reaches the database with them and turns them into a server error: here for the address,
in crm.json_input for JSON that comes in."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether TEXT holds a character PostgreSQL text and jsonb cannot hold."""
    return bool(_UNSTORABLE.search(text))


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
