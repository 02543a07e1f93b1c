"""The boot body's rules (contacts.sdk.shapes) say what its documented serializer says."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from contacts.sdk import serializers as documented
from contacts.sdk.shapes import BOOT, DEVICE, PAGE, boot_body_clean
from crm.api import _flatten
from crm.errors import InvalidInput

BODIES: list[Any] = [
    {"pluginKey": "k"},
    {"pluginKey": "  k  ", "memberId": "  m-1 ", "memberHash": ""},
    {},
    {"pluginKey": ""},
    {"pluginKey": None},
    {"pluginKey": 12345},
    {"pluginKey": True},
    {"pluginKey": ["k"]},
    {"pluginKey": "k" * 64},
    {"pluginKey": "k" * 65},
    {"pluginKey": "k", "memberId": "m" * 256},
    {"pluginKey": "k", "veilId": "short"},
    {"pluginKey": "k", "veilId": "device-0001"},
    {"pluginKey": "k", "veilId": "has space in it"},
    {"pluginKey": "k", "veilId": ""},
    {"pluginKey": "k", "profile": {"a": 1}, "profileOnce": {}},
    {"pluginKey": "k", "profile": "x"},
    {"pluginKey": "k", "profile": [1]},
    {"pluginKey": "k", "profileOnce": None},
    {"pluginKey": "k", "language": "ko"},
    {"pluginKey": "k", "language": "x" * 17},
    {"pluginKey": "k", "unsubscribeEmail": True, "unsubscribeTexting": "false"},
    {"pluginKey": "k", "unsubscribeEmail": "maybe"},
    {"pluginKey": "k", "unsubscribeEmail": 1, "unsubscribeTexting": 0},
    {"pluginKey": "k", "unsubscribeEmail": 2},
    {"pluginKey": "k", "unsubscribeEmail": "YES", "unsubscribeTexting": "OFF"},
    {"pluginKey": "k", "unsubscribeEmail": 1.0, "unsubscribeTexting": 0.0},
    {"pluginKey": "k", "device": {"hasPushToken": "ON"}},
    {"pluginKey": "k", "tags": ["a", 1, None]},
    {"pluginKey": "k", "tags": "vip"},
    {"pluginKey": "k", "tags": ["t"] * 101},
    {"pluginKey": "k", "page": {"url": "https://shop.example/?utm_source=a", "title": "Home"}},
    {"pluginKey": "k", "page": {"url": "u" * 4097}},
    {"pluginKey": "k", "page": "https://shop.example/"},
    {"pluginKey": "k", "page": {"referrer": 5}},
    {"pluginKey": "k", "device": {}},
    {"pluginKey": "k", "device": {"platform": "mobile", "appVersion": "1.2.3"}},
    {"pluginKey": "k", "device": {"platform": "tv", "osName": "o" * 65}},
    {"pluginKey": "k", "device": {"hasPushToken": "yes", "userAgent": "Mozilla/5.0"}},
    {"pluginKey": "k", "device": {"hasPushToken": "sometimes"}},
    {"pluginKey": "k", "device": None},
    {"pluginKey": "k", "unknown": "ignored"},
    {"veilId": "x", "device": {"platform": "tv"}, "tags": 3},
    ["not", "an", "object"],
]


def _serializer_answer(body: Any) -> tuple[str, Any]:
    serializer = documented.BootRequestSerializer(data=body)
    if serializer.is_valid():
        return "accepted", _plain(serializer.validated_data)
    try:
        serializer.is_valid(raise_exception=True)
    except serializers.ValidationError as error:
        return "refused", sorted((p.key, p.code) for p in _flatten(error.detail))
    raise AssertionError("unreachable")


def _rules_answer(body: Any) -> tuple[str, Any]:
    try:
        return "accepted", boot_body_clean(body)
    except InvalidInput as error:
        return "refused", sorted((p.key, p.code) for p in error.problems)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize("body", BODIES, ids=[str(i) for i in range(len(BODIES))])
def test_the_rules_accept_refuse_and_clean_as_the_serializer_does(body: Any) -> None:
    expected = _serializer_answer(body)
    if expected[0] == "refused" and not isinstance(body, dict):
        assert _rules_answer(body)[0] == "refused"
        return

    assert _rules_answer(body) == expected


def test_the_rules_know_every_documented_field() -> None:
    boot = documented.BootRequestSerializer()
    assert set(BOOT) == set(boot.fields)
    assert set(PAGE) == set(documented.PageSerializer().fields)
    assert set(DEVICE) == set(documented.DeviceSerializer().fields)
    for rules, fields in (
        (BOOT, boot.fields),
        (PAGE, documented.PageSerializer().fields),
        (DEVICE, documented.DeviceSerializer().fields),
    ):
        for name, rule in rules.items():
            limit = getattr(fields[name], "max_length", None)
            if limit is not None:
                assert getattr(rule, "max_length", None) == limit, name
