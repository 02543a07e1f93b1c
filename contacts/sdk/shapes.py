"""The shape of a boot body, checked without building serializers.

A boot is the hottest request of the product: every page view of every website that embeds the
snippet sends one. DRF's serializers deep-copy their fields for each request, which cost a
sixth of a boot, so the boot body is checked here by a table of small rules instead.
`serializers.BootRequestSerializer` stays the documentation of the same shape (OpenAPI), and
a test holds the two to the same fields, limits and answers.

Errors are InvalidInput problems keyed by the field's path ("device.platform"), with the codes
DRF would give (required, blank, max_length, invalid, invalid_choice, not_a_dict, …)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from crm.errors import InvalidInput, Problem

# DRF's own reading of booleans, one field for the process (it holds no per-request state).
_BOOLEAN = serializers.BooleanField()
VEIL_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TAGS_IN_BODY = 100


class _Refused(Exception):
    def __init__(self, code: str, message: str, at: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.at = at  # below the field: ".2" for its third item


@dataclass(frozen=True)
class Text:
    """A string (numbers are taken as their text), trimmed, at most MAX characters."""

    max_length: int
    required: bool = False
    allow_blank: bool = True
    pattern: re.Pattern[str] | None = None
    pattern_message: str = ""

    def clean(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _Refused("invalid", "Not a valid string.")
        text = str(value).strip()
        if not text:
            if not self.allow_blank:
                raise _Refused("blank", "This field may not be blank.")
            return text
        if len(text) > self.max_length:
            message = f"Ensure this field has no more than {self.max_length} characters."
            raise _Refused("max_length", message)
        if self.pattern is not None and not self.pattern.match(text):
            raise _Refused("invalid", self.pattern_message)
        return text


@dataclass(frozen=True)
class Flag:
    """A boolean, read exactly as DRF's BooleanField reads it ("yes", "ON", 0, 1.0, …)."""

    def clean(self, value: Any) -> bool:
        try:
            return bool(_BOOLEAN.to_internal_value(value))
        except serializers.ValidationError:
            raise _Refused("invalid", "Must be a valid boolean.") from None


@dataclass(frozen=True)
class Choice:
    choices: tuple[str, ...]

    def clean(self, value: Any) -> str:
        if isinstance(value, str) and value in self.choices:
            return value
        raise _Refused("invalid_choice", f'"{value}" is not a valid choice.')


@dataclass(frozen=True)
class Object:
    """A JSON object; with FIELDS, each of them checked (other keys are ignored)."""

    fields: Mapping[str, Any] | None = None

    def clean(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            kind = type(value).__name__
            if self.fields is not None:
                raise _Refused("invalid", f"Invalid data. Expected a dictionary, but got {kind}.")
            raise _Refused("not_a_dict", f'Expected a dictionary of items but got type "{kind}".')
        return value


@dataclass(frozen=True)
class Items:
    """A JSON array of at most MAX_LENGTH items (the items are checked by the services)."""

    max_length: int

    def clean(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            kind = type(value).__name__
            raise _Refused("not_a_list", f'Expected a list of items but got type "{kind}".')
        if len(value) > self.max_length:
            message = f"Ensure this field has no more than {self.max_length} elements."
            raise _Refused("max_length", message)
        for index, item in enumerate(value):
            if item is None:
                raise _Refused("null", "This field may not be null.", at=f".{index}")
        return value


PAGE = {
    "url": Text(4096),
    "referrer": Text(4096),
    "title": Text(1000),
}
DEVICE = {
    "platform": Choice(("web", "mobile")),
    "userAgent": Text(1000),
    "appName": Text(100),
    "appVersion": Text(32),
    "os": Text(100),
    "osName": Text(64),
    "device": Text(100),
    "hasPushToken": Flag(),
}
DEVICE_DEFAULTS = {"platform": "web"}
BOOT = {
    "profile": Object(),
    "profileOnce": Object(),
    "language": Text(16),
    "unsubscribeEmail": Flag(),
    "unsubscribeTexting": Flag(),
    "tags": Items(MAX_TAGS_IN_BODY),
    "pluginKey": Text(64, required=True, allow_blank=False),
    "memberId": Text(255),
    "memberHash": Text(128),
    "veilId": Text(
        64, pattern=VEIL_ID, pattern_message="veilId is 8 to 64 letters, digits, '-' or '_'."
    ),
    "page": Object(PAGE),
    "device": Object(DEVICE),
}
NESTED_DEFAULTS: dict[str, Mapping[str, Any]] = {"device": DEVICE_DEFAULTS}


def boot_body_clean(data: Any) -> dict[str, Any]:
    """The boot body's known fields, checked and cleaned; InvalidInput naming every problem."""
    if not isinstance(data, dict):
        kind = type(data).__name__
        message = f"The body is a JSON object; got {kind}."
        raise InvalidInput([Problem("body", "invalid", message)])
    problems: list[Problem] = []
    cleaned = _fields_clean(data, BOOT, "", problems)
    if problems:
        raise InvalidInput(problems)
    return cleaned


def _fields_clean(
    data: Mapping[str, Any], rules: Mapping[str, Any], prefix: str, problems: list[Problem]
) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, rule in rules.items():
        path = f"{prefix}{name}"
        if name not in data:
            if getattr(rule, "required", False):
                problems.append(Problem(path, "required", f"{path}: This field is required."))
            continue
        if data[name] is None:
            problems.append(Problem(path, "null", f"{path}: This field may not be null."))
            continue
        try:
            value = rule.clean(data[name])
        except _Refused as refused:
            where = path + refused.at
            problems.append(Problem(where, refused.code, f"{where}: {refused.message}"))
            continue
        nested = getattr(rule, "fields", None)
        if nested is not None:
            value = {
                **NESTED_DEFAULTS.get(name, {}),
                **_fields_clean(value, nested, f"{path}.", problems),
            }
        cleaned[name] = value
    return cleaned
