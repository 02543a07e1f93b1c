"""Requests that meet a lost database connection (docs/ARCHITECTURE.md, "Database outages").

A GET or HEAD whose first statement failed on a lost connection has read and written nothing:
it runs again, once, on a new connection. Anything else that meets a lost connection is a 503
with Retry-After, never a 500 or a traceback: the API's views answer in the error shape from
crm.api's exception handler; this module answers for the other views (the desk and the admin
get a plain page, an API path the error shape) and, as the 500 handler (crm.urls), for a loss
outside a view, such as a session saved as the answer leaves."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from crm.api import API_PATHS, error_body, unavailable_headers
from crm.connection_loss import RETRY_AFTER_S, UNAVAILABLE_MESSAGE, connection_lost

logger = logging.getLogger(__name__)
# Requests that read only: run again when their first statement met a lost connection.
RETRIED_METHODS = frozenset({"GET", "HEAD"})


class FirstStatementWatch:
    """An execute wrapper (Django's `connection.execute_wrapper`) that notes whether the
    request's first statement failed because the connection was lost."""

    def __init__(self) -> None:
        self.statements = 0
        self.first_lost = False

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.statements += 1
        if self.statements > 1:
            return execute(sql, params, many, context)
        try:
            return execute(sql, params, many, context)
        except Exception as error:
            self.first_lost = connection_lost(error)
            raise


class DatabaseOutageMiddleware:
    """Runs a read-only request again when its first statement met a lost connection; answers
    503 for a view that met one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        watch = FirstStatementWatch()
        with connection.execute_wrapper(watch):
            response = self.get_response(request)
        if not (watch.first_lost and request.method in RETRIED_METHODS):
            return response
        logger.warning(
            "%s %s met a lost database connection at its first statement; run again on a new one",
            request.method,
            request.path,
        )
        with suppress(DatabaseError):
            connection.close()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return unavailable_response(request) if connection_lost(exception) else None


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 with Retry-After: the API's error shape on its paths, a plain page elsewhere."""
    if request.path.startswith(API_PATHS):
        body = error_body(503, UNAVAILABLE_MESSAGE)
        return JsonResponse(body, status=503, headers=unavailable_headers())
    # No request context: its processors could need the database (the user).
    page = render_to_string("crm/unavailable.html", {"retry_after": RETRY_AFTER_S})
    return HttpResponse(page, status=503, headers=unavailable_headers())


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler (crm.urls): a lost connection outside a view is a 503 too."""
    error = sys.exc_info()[1]
    if error is not None and connection_lost(error):
        return unavailable_response(request)
    return defaults.server_error(request)
