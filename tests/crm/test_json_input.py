"""The one decoder of JSON that comes in: what it takes, and the problem it names for what it
refuses (where, which code, and a sentence that says what is allowed)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from crm.errors import InvalidInput, Problem
from crm.json_input import MAX_DEPTH, JSONInputFormField, json_input_decode

RANGE = (
    "a number is out of range: numbers are finite (at most about 1.8e308 either way) and whole "
    "numbers are from -9223372036854775808 to 18446744073709551615."
)


def nested_lists(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def refusal(raw: bytes | str, key: str = "body") -> Problem:
    with pytest.raises(InvalidInput) as refused:
        json_input_decode(raw, key=key)
    [problem] = refused.value.problems
    return problem


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b'{"a": [1, "x", null, true]}', {"a": [1, "x", None, True]}),
        (b"9223372036854775807", 2**63 - 1),
        (b"18446744073709551615", 2**64 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b"[1.7976931348623157e308, -5e-324]", [1.7976931348623157e308, -5e-324]),
        (b"1e-400", 0.0),
        (b"12345678901234567890.5", 12345678901234567890.5),
        (b"1e19", 1e19),
        (b'{"n": "123456789012345678901234567890"}', {"n": "123456789012345678901234567890"}),
        ('{"név": "김민서 \\u2028"}', {"név": "김민서 \u2028"}),
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, nested_lists(MAX_DEPTH)),
    ],
    ids=[
        "values",
        "int64 max",
        "uint64 max",
        "int64 min",
        "the largest and smallest doubles",
        "underflow to 0",
        "a long fraction",
        "an exponent",
        "long digits in a string",
        "text",
        "nested to the limit",
    ],
)
def test_json_the_product_can_hold_is_read_as_it_was_sent(raw: bytes | str, value: Any) -> None:
    assert json_input_decode(raw) == value


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
            Problem("body", "too_deep", "body: arrays and objects nest at most 64 levels deep."),
        ),
        (
            '{"a":' * 100_000 + "1" + "}" * 100_000,
            Problem("body", "too_deep", "body: arrays and objects nest at most 64 levels deep."),
        ),
        (b"[1e999]", Problem("body", "number_too_large", f"body: {RANGE}")),
        (b'{"n": 18446744073709551616}', Problem("body", "number_too_large", f"body: {RANGE}")),
        (b"[-9223372036854775809]", Problem("body", "number_too_large", f"body: {RANGE}")),
        (
            b"[NaN]",
            Problem(
                "body",
                "invalid_number",
                "body: NaN and Infinity are not JSON numbers; send a finite number or null.",
            ),
        ),
        (
            b'{"a": -Infinity}',
            Problem(
                "body",
                "invalid_number",
                "body: NaN and Infinity are not JSON numbers; send a finite number or null.",
            ),
        ),
        (
            b'{"profile": {"name": "a\\u0000"}}',
            Problem(
                "profile.name",
                "invalid_character",
                "profile.name: holds a NUL character, which cannot be stored.",
            ),
        ),
        (
            b'{"tags": ["ok", {"x\\u0000": 1}]}',
            Problem(
                "tags.1.x\x00",
                "invalid_character",
                "tags.1.x\x00: holds a NUL character, which cannot be stored.",
            ),
        ),
        (
            b'{"name": "a\x00"}',
            Problem(
                "body", "invalid_character", "body: holds a NUL character, which cannot be stored."
            ),
        ),
        (
            b'{"name": "\\udfff"}',
            Problem(
                "body",
                "invalid_character",
                "body: holds a lone surrogate (\\ud800 to \\udfff), which cannot be stored.",
            ),
        ),
        (
            b'{"name": "\xc3\x28"}',
            Problem("body", "invalid_encoding", "body: the JSON is not UTF-8 text."),
        ),
        (
            b'{"name": "a"',
            Problem(
                "body",
                "invalid_json",
                "body is not valid JSON: unexpected end of data at line 1, column 13.",
            ),
        ),
        (
            b'{"name": "a\nb"}',
            Problem(
                "body",
                "invalid_json",
                "body is not valid JSON: unexpected control character in string at line 1, "
                "column 12.",
            ),
        ),
        (
            b"",
            Problem(
                "body",
                "invalid_json",
                "body is not valid JSON: Input is a zero-length, empty document.",
            ),
        ),
    ],
    ids=[
        "too deep",
        "100,000 levels",
        "infinity",
        "past uint64",
        "below int64",
        "NaN",
        "-Infinity",
        "an escaped NUL",
        "a NUL in a key",
        "a raw NUL",
        "a lone surrogate",
        "not UTF-8",
        "truncated",
        "a raw line break in a string",
        "empty",
    ],
)
def test_what_cannot_be_held_is_refused_naming_the_problem(
    raw: bytes | str, problem: Problem
) -> None:
    assert refusal(raw) == problem


def test_paths_inside_another_input_start_with_its_name() -> None:
    assert refusal('{"and": [{"key": "a\\u0000"}]}', key="filter") == Problem(
        "filter.and.0.key",
        "invalid_character",
        "filter.and.0.key: holds a NUL character, which cannot be stored.",
    )
    assert refusal("[" * 70 + "]" * 70, key="filter").key == "filter"


def test_text_already_decoded_with_a_lone_surrogate_is_refused() -> None:
    assert refusal('["\ud800"]', key="filter") == Problem(
        "filter",
        "invalid_character",
        "filter: holds a lone surrogate, which cannot be stored.",
    )


def test_a_json_form_field_reads_with_the_same_decoder() -> None:
    field = JSONInputFormField(label="Filter")

    assert field.clean('{"key": "tags"}') == {"key": "tags"}
    with pytest.raises(ValidationError) as refused:
        field.clean("[" * 5000 + "]" * 5000)
    assert refused.value.messages == ["Filter: arrays and objects nest at most 64 levels deep."]
    assert str(field.bound_data("[" * 5000, None)) == "[" * 5000
