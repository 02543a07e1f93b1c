"""The type registry: one table maps each profile field type to everything that depends on it.

Each `FieldType` has exactly one `TypeSpec`: its parser/normaliser, its limits, the filter
operators it allows, the Django form field, the DRF serializer field, the index kinds that serve
it and the masking modes it supports. Code that needs to know about a type asks `type_spec()`;
it never switches on the type itself.

Stored forms (ARCHITECTURE rule 2): Boolean as true/false; String as text of at most 512
characters; Number as a JSON number (never a bool, never NaN/inf, whole numbers within the range a
JavaScript client reads exactly); Date as "YYYY-MM-DD" (a real calendar day); Datetime as an
integer of epoch milliseconds from 0 to 253402300799999 (9999-12-31T23:59:59.999Z); List as at
most 200 strings of at most 512 characters each; List of number as at most 200 numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from django import forms
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from profile_schema.models import FieldType, Masking

MAX_STRING_LENGTH = 512
MAX_LIST_ITEMS = 200
MAX_SAFE_INTEGER = 2**53 - 1
MAX_EPOCH_MS = 253_402_300_799_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class ValueRefused(Exception):
    """A value that does not fit: a machine CODE and, for a person, what was EXPECTED."""

    def __init__(self, code: str, expected: str, detail: str = "", hint: str = "") -> None:
        super().__init__(f"{code}: must be {expected}")
        self.code = code
        self.expected = expected  # completes "<key> must be ...".
        self.detail = detail  # what was wrong with the value received, e.g. "item 3 has ...".
        self.hint = hint  # a sentence pointing to what to do instead.


class IndexKind(StrEnum):
    """The index kinds a filter on a profile key can use (ARCHITECTURE rule 5)."""

    CONTAINMENT = "gin_jsonb_path_ops"  # eq / in / hasAny / hasAll: `profile @> {...}`
    EXPRESSION_BTREE = "btree_expression"  # ranges and sorting: (channel_id, (profile -> 'key'))
    TRIGRAM = "gin_trgm"  # contains / startsWith on text


EXISTENCE = ("exists", "notExists")
BOOLEAN_OPERATORS = ("eq", "neq", *EXISTENCE)
STRING_OPERATORS = ("eq", "neq", "contains", "notContains", "startsWith", "in", *EXISTENCE)
NUMBER_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "in", *EXISTENCE)
TIME_OPERATORS = (
    "eq",
    "before",
    "after",
    "between",
    "withinLastDays",
    "moreThanDaysAgo",
    "gt",
    "gte",
    "lt",
    "lte",
    *EXISTENCE,
)
LIST_OPERATORS = ("hasAny", "hasAll", "hasNone", *EXISTENCE)

BOOLEAN_EXPECTS = "true or false"
STRING_EXPECTS = f"a string of at most {MAX_STRING_LENGTH} characters"
NUMBER_EXPECTS = f"a number (a JSON number, not text; whole numbers within ±{MAX_SAFE_INTEGER})"
DATE_EXPECTS = "a date written YYYY-MM-DD, a real calendar day (e.g. '2024-02-29')"
DATETIME_EXPECTS = f"a time in epoch milliseconds (a whole number from 0 to {MAX_EPOCH_MS})"
LIST_EXPECTS = (
    f"a list of at most {MAX_LIST_ITEMS} strings of at most {MAX_STRING_LENGTH} characters each"
)
LIST_OF_NUMBER_EXPECTS = f"a list of at most {MAX_LIST_ITEMS} numbers"


def boolean_parse(value: object) -> bool:
    """VALUE as a Boolean: only true or false."""
    if not isinstance(value, bool):
        raise ValueRefused("invalid_type", BOOLEAN_EXPECTS)
    return value


def text_check(text: str, *, expected: str, detail_prefix: str = "") -> str:
    """TEXT when PostgreSQL can store it and it fits in MAX_STRING_LENGTH characters."""
    if len(text) > MAX_STRING_LENGTH:
        detail = f"{detail_prefix}{len(text)} characters long"
        raise ValueRefused("too_long", expected, detail=detail)
    if "\x00" in text or _has_lone_surrogate(text):
        detail = f"{detail_prefix}holding a NUL character or an unpaired surrogate"
        raise ValueRefused("invalid_character", expected, detail=detail)
    return text


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def string_parse(value: object) -> str:
    """VALUE as a String: text of at most 512 characters, kept exactly as written."""
    if not isinstance(value, str):
        raise ValueRefused("invalid_type", STRING_EXPECTS)
    return text_check(value, expected=STRING_EXPECTS)


def number_parse(value: object) -> int | float:
    """VALUE as a Number: an int or a finite float, never a bool (-0.0 becomes 0.0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueRefused("invalid_type", NUMBER_EXPECTS)
    if isinstance(value, float):
        if not math.isfinite(value):
            detail = "which is not a finite number"
            raise ValueRefused("invalid_number", NUMBER_EXPECTS, detail=detail)
        return value + 0.0  # PostgreSQL's numeric has no negative zero.
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueRefused("out_of_range", NUMBER_EXPECTS)
    return value


def date_parse(value: object) -> str:
    """VALUE as a Date: 'YYYY-MM-DD' naming a real calendar day (a `date` is accepted too)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueRefused("invalid_type", DATE_EXPECTS)
    if not _DATE_TEXT.match(value):
        raise ValueRefused("invalid_date", DATE_EXPECTS)
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueRefused("invalid_date", DATE_EXPECTS, detail="which is not a day") from None


def datetime_parse(value: object) -> int:
    """VALUE as a Datetime: epoch milliseconds in range (an aware `datetime` is accepted too)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueRefused("invalid_type", DATETIME_EXPECTS, detail="without a time zone")
        value = (value - _EPOCH) // timedelta(milliseconds=1)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueRefused("invalid_type", DATETIME_EXPECTS)
    if not 0 <= value <= MAX_EPOCH_MS:
        raise ValueRefused("out_of_range", DATETIME_EXPECTS)
    return value


def _items(value: object, expected: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValueRefused("invalid_type", expected)
    if len(value) > MAX_LIST_ITEMS:
        raise ValueRefused("too_many_items", expected)
    return list(value)


def list_parse(value: object) -> list[str]:
    """VALUE as a List: at most 200 strings of at most 512 characters each, order kept."""
    items = _items(value, LIST_EXPECTS)
    for position, item in enumerate(items, start=1):
        if not isinstance(item, str):
            detail = f"whose item {position} is not a string"
            raise ValueRefused("invalid_type", LIST_EXPECTS, detail=detail)
        text_check(item, expected=LIST_EXPECTS, detail_prefix=f"whose item {position} is ")
    return items


def list_of_number_parse(value: object) -> list[int | float]:
    """VALUE as a List of number: at most 200 numbers, each as `number_parse` takes it."""
    numbers = []
    for position, item in enumerate(_items(value, LIST_OF_NUMBER_EXPECTS), start=1):
        try:
            numbers.append(number_parse(item))
        except ValueRefused as refused:
            detail = f"whose item {position} is not {NUMBER_EXPECTS}"
            raise ValueRefused(refused.code, LIST_OF_NUMBER_EXPECTS, detail=detail) from None
    return numbers


class JsonNumberFormField(forms.FloatField):
    """A number typed into a form: a whole number stays an int, others become a float."""

    def to_python(self, value: Any) -> int | float | None:  # type: ignore[override]
        number = super().to_python(value)
        if number is not None and number.is_integer() and abs(number) <= MAX_SAFE_INTEGER:
            return int(number)
        return number


class LinesFormField(forms.CharField):
    """A list typed into a text area: one item a line, blank lines left out."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class NumberLinesFormField(LinesFormField):
    """A list of numbers typed into a text area: one number a line."""

    def to_python(self, value: Any) -> list[int | float]:  # type: ignore[override]
        parse = JsonNumberFormField().to_python
        return [number for line in super().to_python(value) if (number := parse(line)) is not None]


class ProfileValueField(serializers.Field):
    """A DRF field for one profile value: the type's parser in, the stored value out."""

    def __init__(self, *, parse: Callable[[object], object], schema: dict[str, Any], **kw: Any):
        kw.setdefault("allow_null", True)  # null removes the key (PATCH, docs/api.md)
        super().__init__(**kw)
        self.parse, self.schema = parse, schema

    def to_internal_value(self, data: Any) -> object:
        try:
            return self.parse(data)
        except ValueRefused as refused:
            detail = f"Must be {refused.expected}."
            raise serializers.ValidationError(detail, code=refused.code) from None

    def to_representation(self, value: Any) -> Any:
        return value


class ProfileValueFieldSchema(OpenApiSerializerFieldExtension):
    """Describes a ProfileValueField in the OpenAPI document with its type's schema."""

    target_class = ProfileValueField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        assert isinstance(self.target, ProfileValueField)
        return {**self.target.schema, "nullable": True}


@dataclass(frozen=True)
class TypeSpec:
    """Everything that depends on one field type."""

    type: FieldType
    expects: str  # completes "<key> must be ..."
    parse: Callable[[object], object]  # normalises or raises ValueRefused
    jsonb_type: str  # what jsonb_typeof() says of a stored value
    operators: tuple[str, ...]
    indexes: tuple[IndexKind, ...]
    maskings: tuple[Masking, ...]
    form_field: Callable[[], forms.Field]
    schema: Mapping[str, Any]  # OpenAPI schema of a value
    max_length: int | None = None  # characters of the string, or of each string item
    max_items: int | None = None

    def serializer_field(self, **kwargs: Any) -> ProfileValueField:
        """A DRF field reading and writing a value of this type."""
        return ProfileValueField(parse=self.parse, schema=dict(self.schema), **kwargs)


_NUMBER_SCHEMA = {"type": "number"}
_EQUALITY_AND_RANGE = (IndexKind.CONTAINMENT, IndexKind.EXPRESSION_BTREE)

TYPES: Mapping[str, TypeSpec] = {
    spec.type: spec
    for spec in (
        TypeSpec(
            type=FieldType.BOOLEAN,
            expects=BOOLEAN_EXPECTS,
            parse=boolean_parse,
            jsonb_type="boolean",
            operators=BOOLEAN_OPERATORS,
            indexes=(IndexKind.CONTAINMENT,),
            maskings=(Masking.FULL,),
            form_field=lambda: forms.NullBooleanField(required=False),
            schema={"type": "boolean"},
        ),
        TypeSpec(
            type=FieldType.STRING,
            expects=STRING_EXPECTS,
            parse=string_parse,
            jsonb_type="string",
            operators=STRING_OPERATORS,
            indexes=(*_EQUALITY_AND_RANGE, IndexKind.TRIGRAM),
            maskings=(Masking.FULL, Masking.PARTIAL),
            form_field=lambda: forms.CharField(required=False, max_length=MAX_STRING_LENGTH),
            schema={"type": "string", "maxLength": MAX_STRING_LENGTH},
            max_length=MAX_STRING_LENGTH,
        ),
        TypeSpec(
            type=FieldType.NUMBER,
            expects=NUMBER_EXPECTS,
            parse=number_parse,
            jsonb_type="number",
            operators=NUMBER_OPERATORS,
            indexes=_EQUALITY_AND_RANGE,
            maskings=(Masking.FULL,),
            form_field=lambda: JsonNumberFormField(required=False),
            schema=_NUMBER_SCHEMA,
        ),
        TypeSpec(
            type=FieldType.DATE,
            expects=DATE_EXPECTS,
            parse=date_parse,
            jsonb_type="string",
            operators=TIME_OPERATORS,
            indexes=_EQUALITY_AND_RANGE,
            maskings=(Masking.FULL,),
            form_field=lambda: forms.DateField(required=False),
            schema={"type": "string", "format": "date"},
        ),
        TypeSpec(
            type=FieldType.DATETIME,
            expects=DATETIME_EXPECTS,
            parse=datetime_parse,
            jsonb_type="number",
            operators=TIME_OPERATORS,
            indexes=_EQUALITY_AND_RANGE,
            maskings=(Masking.FULL,),
            form_field=lambda: forms.DateTimeField(required=False),
            schema={"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_EPOCH_MS},
        ),
        TypeSpec(
            type=FieldType.LIST,
            expects=LIST_EXPECTS,
            parse=list_parse,
            jsonb_type="array",
            operators=LIST_OPERATORS,
            indexes=(IndexKind.CONTAINMENT,),
            maskings=(Masking.FULL,),
            form_field=lambda: LinesFormField(required=False),
            schema={
                "type": "array",
                "maxItems": MAX_LIST_ITEMS,
                "items": {"type": "string", "maxLength": MAX_STRING_LENGTH},
            },
            max_length=MAX_STRING_LENGTH,
            max_items=MAX_LIST_ITEMS,
        ),
        TypeSpec(
            type=FieldType.LIST_OF_NUMBER,
            expects=LIST_OF_NUMBER_EXPECTS,
            parse=list_of_number_parse,
            jsonb_type="array",
            operators=LIST_OPERATORS,
            indexes=(IndexKind.CONTAINMENT,),
            maskings=(Masking.FULL,),
            form_field=lambda: NumberLinesFormField(required=False),
            schema={"type": "array", "maxItems": MAX_LIST_ITEMS, "items": _NUMBER_SCHEMA},
            max_items=MAX_LIST_ITEMS,
        ),
    )
}


def type_spec(type_: str) -> TypeSpec:
    """The registry entry of TYPE_; a KeyError names the types there are."""
    try:
        return TYPES[type_]
    except KeyError:
        raise KeyError(f"{type_!r} is not a field type; types: {', '.join(TYPES)}.") from None
