"""The API's JSON renderer writes what DRF's JSONRenderer writes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from crm.renderers import FastJSONRenderer

PAYLOADS = [
    {},
    [],
    {"users": [], "next": None, "count": {"value": 0, "exact": True}},
    {"name": "김민서", "emoji": "🙂", "quote": 'a "b" \\ c', "control": "tab\there\nnl\x01"},
    {"separators": "\u2028 and \u2029 in text"},
    {"nested": {"list": [1, 2.5, -3, True, False, None, "x"], "deep": [[{"a": [{}]}]]}},
    {"ints": [0, 2**53 + 1, 2**63 - 1, -(2**63)], "floats": [0.1, 1.5, -2.25, 100.0]},
    {"when": datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC), "day": date(2026, 11, 29)},
    {"at": time(9, 30), "amount": Decimal("12.50"), "id": uuid.UUID(int=7)},
    {"lazy": gettext_lazy("This field is required."), "detail": ErrorDetail("bad", "invalid")},
    {1: "integer key", "tuple": (1, 2)},
    {"huge": 2**70},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_same_bytes_as_drf(payload: object) -> None:
    assert FastJSONRenderer().render(payload) == JSONRenderer().render(payload)


def test_an_indented_answer_is_drfs() -> None:
    payload = {"a": [1, {"b": "c"}]}
    media = "application/json; indent=4"

    assert FastJSONRenderer().render(payload, media) == JSONRenderer().render(payload, media)
    assert b"\n    " in FastJSONRenderer().render(payload, media)


def test_nothing_renders_as_an_empty_body() -> None:
    assert FastJSONRenderer().render(None) == b""


@pytest.mark.parametrize(
    "payload",
    [{"n": 1e-05}, [2.5e-07, 1e-09, 1e16, 123456.789, -0.0], {"big": 1.7976931348623157e308}],
)
def test_floats_are_the_same_numbers(payload: object) -> None:
    assert json.loads(FastJSONRenderer().render(payload)) == json.loads(
        JSONRenderer().render(payload)
    )


def test_an_iterator_is_left_to_drf_unread() -> None:
    assert FastJSONRenderer().render({"ids": (i for i in [1, 2, 3]), "big": 2**70}) == (
        b'{"ids":[1,2,3],"big":1180591620717411303424}'
    )
    assert FastJSONRenderer().render({"ids": map(str, [1, 2])}) == b'{"ids":["1","2"]}'


def test_what_drf_refuses_is_still_refused() -> None:
    @dataclass
    class Point:
        x: int

    with pytest.raises(TypeError):
        JSONRenderer().render({"p": Point(1)})
    with pytest.raises(TypeError):
        FastJSONRenderer().render({"p": Point(1)})
    with pytest.raises(ValueError, match="Out of range float"):
        FastJSONRenderer().render({"n": float("nan"), "big": 2**70})  # DRF's path: refused
