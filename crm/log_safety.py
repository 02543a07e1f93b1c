"""Logs and error reports carry no customer value (docs/operations.md, "Logs and error reports").

Search endpoints take phone numbers and emails in the query string, a member's address names
its member id (`/open/v5/users/@m-1`), and PostgreSQL quotes row values in its error details.
What the servers write is kept to what locates a request without them:

- `text_hidden`: a URL's query keeps its parameter names, each value becomes `…`
  (`/open/v5/users?query=…&limit=…`); a member id in a path becomes `@…`; a PostgreSQL `DETAIL:`
  or `CONTEXT:` line (`Key (...)=(...)`, `Failing row contains (...)`, `JSON data, line 1: …`)
  keeps only its label; an error that quotes the value it refused (`invalid input syntax for
  type bigint: "…"`, `invalid literal for int() with base 10: '…'`) keeps its words.
- `RequestValuesHidden`: a logging filter that passes each record's message and traceback
  through `text_hidden`; settings.LOGGING puts it on every handler (the development server's
  request lines, django.request's 4xx/5xx lines, the admins' error mail).
- `ValuesHiddenReporterFilter` and `ValuesHiddenExceptionReporter`: Django's error reports
  (the DEBUG 500 page and the admins' error mail) show the names of GET and POST parameters
  but no value, no request body, the URL as `text_hidden` leaves it, and of each frame's local
  variables only their types: a contact, its profile or a search term are all `<… hidden>`.

gunicorn's access and error logs go through the same rules (crm.gunicorn_logging).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

HIDDEN = "…"
# A query string after a path (a '/' earlier in the same token, with none of the characters
# of a pattern in source code): up to a space, a quote or an angle bracket, which end a URL in a
# log line or a report.
_QUERY = re.compile(r"(/[^\s?\"'<>()\[\]{}^$\\|]*)\?([^\s\"'<>]*)")
_MEMBER_ID = re.compile(r"(/users/@)[^/\s?\"'<>#]+")
_DETAIL = re.compile(r"^(\s*(?:DETAIL|CONTEXT):)[^\n]*", re.MULTILINE)
# Error messages that quote the value they refused: PostgreSQL's "invalid input syntax for type
# bigint: "…"" and Python's "invalid literal for int() with base 10: '…'".
_QUOTED_VALUE = re.compile(
    r"((?:invalid input (?:syntax|value) for (?:type )?[\w ]+|"
    r"invalid literal for \w+\(\) with base \d+|could not convert \w+ to \w+): )"
    r"(\"[^\"\n]*\"|'[^'\n]*')"
)
# A parameter name worth keeping: what the API, the admin and the desk use. Anything else (a
# value sent as a name, an encoded character) is hidden with the values.
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]-]{0,63}")
# Values shown as they are in a report's frame variables: they hold no customer data.
_SHOWN_TYPES = (bool, type(None))


def parameter_name_shown(name: str) -> str:
    return name if _PARAMETER_NAME.fullmatch(name) else HIDDEN


def query_hidden(query: str) -> str:
    """QUERY (without its '?') with each value replaced by `…`: 'query=…&limit=…'."""
    if not query:
        return query
    parts: list[str] = []
    for part in query.split("&"):
        name, has_value, _ = part.partition("=")
        if not part:
            parts.append(part)
        elif not has_value:  # a bare word is a value
            parts.append(HIDDEN)
        else:
            parts.append(f"{parameter_name_shown(name)}={HIDDEN}")
    return "&".join(parts)


def text_hidden(text: str) -> str:
    """TEXT (a log line, a traceback, a URL) with query values, member ids in paths and
    PostgreSQL's quoted row values replaced by `…`."""
    text = _MEMBER_ID.sub(rf"\g<1>{HIDDEN}", text)
    text = _QUERY.sub(lambda found: f"{found[1]}?{query_hidden(found[2])}", text)
    text = _QUOTED_VALUE.sub(rf"\g<1>{HIDDEN}", text)
    return _DETAIL.sub(rf"\g<1>  {HIDDEN}", text)


class RequestValuesHidden(logging.Filter):
    """Rewrites a record's message and traceback through `text_hidden` (it never drops one).

    Put on handlers, not loggers: a logger's filter misses the records its children pass up."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = text_hidden(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = text_hidden(record.exc_text)
        return True


@dataclass(frozen=True)
class _Hidden:
    """What a report shows for a variable: its type, never its value."""

    type_name: str

    def __repr__(self) -> str:
        return f"<{self.type_name}, hidden>"


def variable_shown(value: Any) -> Any:
    return value if isinstance(value, _SHOWN_TYPES) else _Hidden(type(value).__name__)


class ValuesHiddenReporterFilter(SafeExceptionReporterFilter):
    """Django's report filter, on in DEBUG too: parameter names without values, META's URLs
    through `text_hidden`, and frame variables as their types only."""

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, str]:
        if request is None:
            return {}
        try:
            names = list(request.POST)
        except Exception:  # an unreadable body: report the error, not a second one
            return {}
        return {parameter_name_shown(name): HIDDEN for name in names}

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        for key, value in meta.items():
            if key == "QUERY_STRING" and isinstance(value, str):
                meta[key] = query_hidden(value)
            elif isinstance(value, str):
                meta[key] = text_hidden(value)
        return meta

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        return [(name, variable_shown(value)) for name, value in tb_frame.f_locals.items()]


@dataclass(frozen=True)
class _RequestShown:
    """What the report's templates read of the request, with the path as `text_hidden`
    leaves it."""

    path_info: str
    META: dict[str, Any]
    GET: bool
    FILES: Any
    COOKIES: Any


class ValuesHiddenExceptionReporter(ExceptionReporter):
    """Django's report, with what its filter cannot reach hidden too: the GET values, the
    request's URL and path, and values quoted in exception messages."""

    def get_traceback_data(self) -> dict[str, Any]:
        data: dict[str, Any] = super().get_traceback_data()
        request = self.request
        if request is not None:
            data["request_GET_items"] = [
                (parameter_name_shown(name), HIDDEN) for name in request.GET
            ]
            data["request_insecure_uri"] = text_hidden(data["request_insecure_uri"])
            data["request"] = _RequestShown(
                path_info=text_hidden(request.path_info),
                META={"REQUEST_METHOD": request.META.get("REQUEST_METHOD", "")},
                GET=bool(request.GET),
                FILES=request.FILES,
                COOKIES=request.COOKIES,
            )
        for key in ("exception_value", "exception_notes"):
            if key in data:
                data[key] = text_hidden(str(data[key]))
        for frame in data.get("frames", []):
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = text_hidden(str(frame["exc_cause"]))
        return data
