"""JSON that comes in (request bodies, a filter in a query string, a JSON form field), read by
one decoder, so that every way in refuses the same things with the same clear 400.

orjson reads the text: its decoder gives up past 1,024 levels of nesting with an ordinary error,
where the standard library's recursed until Python's stack ran out (a 500). The decoded value
must then nest at most MAX_DEPTH levels, hold only text PostgreSQL can store, and only numbers
that fit a double or a 64-bit whole number. docs/ARCHITECTURE.md says why the depth is 64."""

from __future__ import annotations

import codecs
import re
from typing import Any

import orjson
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import BaseParser

from crm.errors import InvalidInput, PayloadTooLarge, Problem
from crm.text_safety import unstorable

# Arrays and objects inside one another, the outermost counted: any walk of a value this deep,
# recursive or not, stays far from Python's 1,000 frames; a filter's 6 groups take 15 levels.
MAX_DEPTH = 64
# The whole numbers orjson reads as integers; a longer one would silently become a float.
WHOLE_MIN, WHOLE_MAX = -(2**63), 2**64 - 1
_LONG_DIGITS = re.compile(r"[0-9]{19}")
# Bytes with every digit turned to "0" and everything else to " ": a run of 19 digits is then
# a plain substring search, some five times faster than the regular expression on a boot body.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
# A whole-number token outside strings (strings are matched first and skipped).
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![0-9.eE+-])(-?[0-9]+)(?![0-9.eE])')
_NOT_NUMBERS = ("NaN", "Infinity")
_UTF8 = ("utf-8", "ascii")


def json_input_decode(raw: bytes | str, *, key: str = "body") -> Any:
    """RAW read as JSON; InvalidInput naming KEY (or the path inside it) and the problem when
    it is not JSON the product can hold. Paths inside a body are its fields' own ("profile.name");
    inside another input they start with its name ("filter.and.0")."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidInput([_syntax_problem(raw, error, key)]) from None
    problem = _value_problem(data, raw, key) or _whole_number_problem(raw, key)
    if problem is not None:
        raise InvalidInput([problem])
    return data


def _syntax_problem(raw: bytes | str, error: orjson.JSONDecodeError, key: str) -> Problem:
    """What orjson refused, in the product's words."""
    reason, at = error.msg, error.pos
    if reason == "depth limit exceeded":
        return _too_deep(key)
    if reason.startswith("number is infinity"):
        return Problem(key, "number_too_large", f"{key}: {_NUMBER_RANGE}")
    if reason.startswith("str is not valid UTF-8"):
        if isinstance(raw, str):  # a lone surrogate character in text already decoded
            return _unstorable(key, "a lone surrogate")
        return Problem(key, "invalid_encoding", f"{key}: the JSON is not UTF-8 text.")
    if "surrogate" in reason:
        return _unstorable(key, "a lone surrogate (\\ud800 to \\udfff)")
    if reason == "unexpected control character in string" and raw[at : at + 1] in (b"\0", "\0"):
        return _unstorable(key, "a NUL character")
    if reason.startswith(("unexpected character", "no digit after sign")) and _not_a_number(
        raw, at
    ):
        message = f"{key}: NaN and Infinity are not JSON numbers; send a finite number or null."
        return Problem(key, "invalid_number", message)
    where = f" at line {error.lineno}, column {error.colno}" if raw.strip() else ""
    return Problem(key, "invalid_json", f"{key} is not valid JSON: {reason}{where}.")


_NUMBER_RANGE = (
    "a number is out of range: numbers are finite (at most about 1.8e308 either way) and whole "
    f"numbers are from {WHOLE_MIN} to {WHOLE_MAX}."
)


def _not_a_number(raw: bytes | str, at: int) -> bool:
    """Whether NaN or Infinity (after a sign, where orjson stops) starts at AT."""
    text = raw[at : at + 8]
    head = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return head.startswith(_NOT_NUMBERS)


def _too_deep(key: str) -> Problem:
    message = f"{key}: arrays and objects nest at most {MAX_DEPTH} levels deep."
    return Problem(key, "too_deep", message)


def _unstorable(where: str, what: str) -> Problem:
    message = f"{where}: holds {what}, which cannot be stored."
    return Problem(where, "invalid_character", message)


def _value_problem(data: Any, raw: bytes | str, key: str) -> Problem | None:
    """The first place in DATA nested too deep or holding text that cannot be stored. Only a
    body with more brackets than MAX_DEPTH can nest that deep, and only an escaped \\u0000 can
    put a NUL in a string (orjson refuses raw ones and lone surrogates), so most bodies are
    never walked."""
    if _count(raw, "[") + _count(raw, "{") <= MAX_DEPTH and not _count(raw, "\\u0000"):
        return None
    return _walk_problem(data, key)


def _count(raw: bytes | str, text: str) -> int:
    return raw.count(text.encode()) if isinstance(raw, bytes) else raw.count(text)


def _walk_problem(data: Any, key: str) -> Problem | None:
    """A walk with its own stack, so no depth of input reaches Python's recursion limit."""
    prefix = "" if key == "body" else key
    pending: list[tuple[Any, str, int]] = [(data, prefix, 1)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            if unstorable(value):
                return _unstorable(path or key, "a NUL character")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            return _too_deep(key)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        children = []
        for name, child in items:
            where = f"{path}.{name}" if path else str(name)
            if isinstance(name, str) and unstorable(name):
                return _unstorable(where, "a NUL character")
            children.append((child, where, depth + 1))
        pending.extend(reversed(children))  # the first problem in reading order is named
    return None


def _whole_number_problem(raw: bytes | str, key: str) -> Problem | None:
    """A whole number past 64 bits, which orjson would read as an inexact float."""
    if isinstance(raw, bytes):
        if b"0" * 19 not in raw.translate(_DIGITS_AS_ZEROS):
            return None
    elif not _LONG_DIGITS.search(raw):
        return None
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    for match in _TOKENS.finditer(text):
        digits = match.group(1)
        if digits and not WHOLE_MIN <= int(digits) <= WHOLE_MAX:
            return Problem(key, "number_too_large", f"{key}: {_NUMBER_RANGE}")
    return None


class JSONBodyParser(BaseParser):
    """Request bodies of the API and the SDK: UTF-8 JSON objects, at most
    DATA_UPLOAD_MAX_MEMORY_SIZE bytes, read by json_input_decode."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        _charset_check(str(media_type or self.media_type))
        meta = parser_context["request"].META if parser_context else {}
        data = json_input_decode(_body_read(stream, meta))
        if not isinstance(data, dict):
            message = f"The body is a JSON object ({{...}}); got {_kind(data)}."
            raise InvalidInput([Problem("body", "invalid_body", message)])
        return data


def _charset_check(media_type: str) -> None:
    """Bodies are UTF-8 (RFC 8259); a charset parameter may only say so."""
    charset = parse_header_parameters(media_type)[1].get("charset")
    if charset is None:
        return
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        name = charset
    if name not in _UTF8:
        raise UnsupportedMediaType(media_type, detail=f"JSON bodies are UTF-8; got {charset}.")


def _body_read(stream: Any, meta: Any) -> bytes:
    """The body's bytes, refused past the limit before they are read when the length is
    declared, and after LIMIT + 1 bytes when it is not."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if limit is not None and declared > limit:
        raise PayloadTooLarge(limit)
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise PayloadTooLarge(limit)
    return bytes(raw)


def _kind(data: Any) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "true or false"
    if isinstance(data, list):
        return "a list"
    return "a string" if isinstance(data, str) else "a number"


class JSONInputFormField(forms.JSONField):
    """A form's JSON text read by json_input_decode (Django's field uses the standard library's
    decoder, which a deeply nested value takes down with a RecursionError)."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or not isinstance(value, str) or isinstance(value, JSONString):
            return super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            converted = json_input_decode(value, key=str(self.label or "value"))
        except InvalidInput as error:
            raise ValidationError(error.problems[0].message, code="invalid") from None
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return json_input_decode(data)
        except InvalidInput:
            return InvalidJSONInput(data)
