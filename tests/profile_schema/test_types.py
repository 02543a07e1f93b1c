"""The type registry: every type's parser with valid and invalid values, limits at their edges."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django import forms
from rest_framework import serializers

from profile_schema.models import FieldType, Masking
from profile_schema.types import (
    MAX_EPOCH_MS,
    MAX_SAFE_INTEGER,
    TYPES,
    IndexKind,
    ValueRefused,
    type_spec,
)


def refusal(type_: str, value: object) -> ValueRefused:
    with pytest.raises(ValueRefused) as caught:
        type_spec(type_).parse(value)
    return caught.value


def test_every_field_type_has_exactly_one_registry_entry() -> None:
    assert set(TYPES) == set(FieldType.values)
    assert all(spec.type == key for key, spec in TYPES.items())


@pytest.mark.parametrize(
    ("type_", "value", "stored"),
    [
        (FieldType.BOOLEAN, True, True),
        (FieldType.BOOLEAN, False, False),
        (FieldType.STRING, "", ""),
        (FieldType.STRING, "  Kim 김  ", "  Kim 김  "),
        (FieldType.STRING, "x" * 512, "x" * 512),
        (FieldType.STRING, "가" * 512, "가" * 512),
        (FieldType.NUMBER, 42, 42),
        (FieldType.NUMBER, -3.5, -3.5),
        (FieldType.NUMBER, 3.0, 3.0),
        (FieldType.NUMBER, MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        (FieldType.NUMBER, -MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER),
        (FieldType.NUMBER, 1e300, 1e300),
        (FieldType.DATE, "2024-02-29", "2024-02-29"),
        (FieldType.DATE, "0001-01-01", "0001-01-01"),
        (FieldType.DATE, date(2025, 1, 31), "2025-01-31"),
        (FieldType.DATETIME, 0, 0),
        (FieldType.DATETIME, 1764300000000, 1764300000000),
        (FieldType.DATETIME, MAX_EPOCH_MS, MAX_EPOCH_MS),
        (FieldType.DATETIME, 1764300000000.0, 1764300000000),
        (FieldType.DATETIME, datetime(2025, 11, 28, 3, 20, tzinfo=UTC), 1764300000000),
        (FieldType.LIST, [], []),
        (FieldType.LIST, ["vip", "gold", "vip"], ["vip", "gold", "vip"]),
        (FieldType.LIST, ["x"] * 200, ["x"] * 200),
        (FieldType.LIST, ["y" * 512], ["y" * 512]),
        (FieldType.LIST_OF_NUMBER, [1, 2.5, -0.0], [1, 2.5, 0.0]),
        (FieldType.LIST_OF_NUMBER, [7] * 200, [7] * 200),
    ],
)
def test_a_value_of_the_type_is_stored_normalised(type_: str, value: object, stored: Any) -> None:
    assert type_spec(type_).parse(value) == stored


def test_negative_zero_is_stored_as_zero() -> None:
    assert str(type_spec(FieldType.NUMBER).parse(-0.0)) == "0.0"


def test_an_integral_float_stays_a_float_but_a_datetime_becomes_an_int() -> None:
    assert isinstance(type_spec(FieldType.NUMBER).parse(3.0), float)
    assert isinstance(type_spec(FieldType.DATETIME).parse(3.0), int)


@pytest.mark.parametrize(
    ("type_", "value", "code"),
    [
        (FieldType.BOOLEAN, "true", "invalid_type"),
        (FieldType.BOOLEAN, 1, "invalid_type"),
        (FieldType.BOOLEAN, None, "invalid_type"),
        (FieldType.STRING, 42, "invalid_type"),
        (FieldType.STRING, ["a"], "invalid_type"),
        (FieldType.STRING, "x" * 513, "too_long"),
        (FieldType.STRING, "a\x00b", "invalid_character"),
        (FieldType.STRING, "\ud800", "invalid_character"),
        (FieldType.NUMBER, True, "invalid_type"),
        (FieldType.NUMBER, "42", "invalid_type"),
        (FieldType.NUMBER, float("nan"), "invalid_number"),
        (FieldType.NUMBER, float("inf"), "invalid_number"),
        (FieldType.NUMBER, float("-inf"), "invalid_number"),
        (FieldType.NUMBER, MAX_SAFE_INTEGER + 1, "out_of_range"),
        (FieldType.DATE, "2023-02-29", "invalid_date"),
        (FieldType.DATE, "2024-13-01", "invalid_date"),
        (FieldType.DATE, "0000-01-01", "invalid_date"),
        (FieldType.DATE, "2024-1-5", "invalid_date"),
        (FieldType.DATE, "20240105", "invalid_date"),
        (FieldType.DATE, "2024-01-05T00:00:00", "invalid_date"),
        (FieldType.DATE, "\uff12\uff10\uff12\uff14-01-05", "invalid_date"),  # full-width digits
        (FieldType.DATE, 20240105, "invalid_type"),
        (FieldType.DATE, datetime(2024, 1, 5, tzinfo=UTC), "invalid_type"),
        (FieldType.DATETIME, True, "invalid_type"),
        (FieldType.DATETIME, "1764300000000", "invalid_type"),
        (FieldType.DATETIME, 1764300000000.5, "invalid_type"),
        (FieldType.DATETIME, -1, "out_of_range"),
        (FieldType.DATETIME, MAX_EPOCH_MS + 1, "out_of_range"),
        (FieldType.DATETIME, datetime(2025, 1, 1), "invalid_type"),
        (FieldType.LIST, "vip", "invalid_type"),
        (FieldType.LIST, ["x"] * 201, "too_many_items"),
        (FieldType.LIST, ["ok", 3], "invalid_type"),
        (FieldType.LIST, ["ok", "y" * 513], "too_long"),
        (FieldType.LIST_OF_NUMBER, [1, "2"], "invalid_type"),
        (FieldType.LIST_OF_NUMBER, [1, True], "invalid_type"),
        (FieldType.LIST_OF_NUMBER, [1, float("nan")], "invalid_number"),
        (FieldType.LIST_OF_NUMBER, [7] * 201, "too_many_items"),
        (FieldType.LIST_OF_NUMBER, {"a": 1}, "invalid_type"),
    ],
)
def test_a_value_not_of_the_type_is_refused_with_a_code(
    type_: str, value: object, code: str
) -> None:
    assert refusal(type_, value).code == code


def test_a_refusal_says_what_was_expected_and_which_item_was_wrong() -> None:
    refused = refusal(FieldType.LIST, ["ok", "y" * 513])

    assert refused.expected == "a list of at most 200 strings of at most 512 characters each"
    assert refused.detail == "whose item 2 is 513 characters long"


def test_a_list_of_number_refusal_names_the_item() -> None:
    refused = refusal(FieldType.LIST_OF_NUMBER, [1, 2, "3"])

    assert refused.expected == "a list of at most 200 numbers"
    assert refused.detail.startswith("whose item 3 is not a number")


@pytest.mark.parametrize(
    ("type_", "operators"),
    [
        (FieldType.BOOLEAN, {"eq", "neq", "exists", "notExists"}),
        (
            FieldType.STRING,
            {"eq", "neq", "contains", "notContains", "startsWith", "in", "exists", "notExists"},
        ),
        (
            FieldType.NUMBER,
            {"eq", "neq", "gt", "gte", "lt", "lte", "between", "in", "exists", "notExists"},
        ),
        (
            FieldType.DATE,
            {"eq", "before", "after", "between", "withinLastDays", "moreThanDaysAgo"}
            | {"gt", "gte", "lt", "lte", "exists", "notExists"},
        ),
        (FieldType.LIST, {"hasAny", "hasAll", "hasNone", "exists", "notExists"}),
        (FieldType.LIST_OF_NUMBER, {"hasAny", "hasAll", "hasNone", "exists", "notExists"}),
    ],
)
def test_each_type_allows_the_operators_of_the_api(type_: str, operators: set[str]) -> None:
    assert set(type_spec(type_).operators) == operators


def test_datetime_allows_the_operators_of_date() -> None:
    assert type_spec(FieldType.DATETIME).operators == type_spec(FieldType.DATE).operators


def test_only_strings_mask_partially_and_use_trigram_indexes() -> None:
    partial = {t for t, spec in TYPES.items() if Masking.PARTIAL in spec.maskings}
    trigram = {t for t, spec in TYPES.items() if IndexKind.TRIGRAM in spec.indexes}

    assert partial == {FieldType.STRING}
    assert trigram == {FieldType.STRING}
    assert all(Masking.FULL in spec.maskings for spec in TYPES.values())


def test_limits_are_declared_on_the_types_that_have_them() -> None:
    limits = {t: (spec.max_length, spec.max_items) for t, spec in TYPES.items()}

    assert limits == {
        "boolean": (None, None),
        "string": (512, None),
        "number": (None, None),
        "date": (None, None),
        "datetime": (None, None),
        "list": (512, 200),
        "listOfNumber": (None, 200),
    }


@pytest.mark.parametrize(
    ("type_", "text", "stored"),
    [
        (FieldType.BOOLEAN, "true", True),
        (FieldType.STRING, "Kim", "Kim"),
        (FieldType.NUMBER, "42", 42),
        (FieldType.NUMBER, "4.5", 4.5),
        (FieldType.DATE, "2024-02-29", "2024-02-29"),
        (FieldType.LIST, "vip\r\n\r\n gold \n", ["vip", "gold"]),
        (FieldType.LIST_OF_NUMBER, "1\n2.5\n", [1, 2.5]),
    ],
)
def test_a_form_field_reads_text_into_a_value_the_parser_stores(
    type_: str, text: str, stored: object
) -> None:
    spec = type_spec(type_)
    field = spec.form_field()

    assert isinstance(field, forms.Field)
    assert spec.parse(field.clean(text)) == stored


@pytest.mark.django_db
def test_the_datetime_form_field_reads_a_time_into_epoch_ms(settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    spec = type_spec(FieldType.DATETIME)

    assert spec.parse(spec.form_field().clean("2025-11-28 03:20:00")) == 1764300000000


def test_the_serializer_field_parses_with_the_type_and_refuses_with_its_code() -> None:
    field = type_spec(FieldType.NUMBER).serializer_field()

    assert field.run_validation(42) == 42
    assert field.run_validation(None) is None
    with pytest.raises(serializers.ValidationError) as caught:
        field.run_validation("42")
    assert caught.value.detail == [
        "Must be a number (a JSON number, not text; whole numbers within ±9007199254740991)."
    ]
    assert caught.value.get_codes() == ["invalid_type"]


def test_type_spec_names_the_types_when_asked_for_an_unknown_one() -> None:
    with pytest.raises(KeyError) as caught:
        type_spec("money")

    assert "'money' is not a field type; types: boolean, string, number" in str(caught.value)
