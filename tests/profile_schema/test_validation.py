"""profile_values_clean: types, key rules, unknown keys, limits; every problem at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from crm.models import Channel
from profile_schema.models import FieldType
from profile_schema.validation import (
    MAX_PROFILE_BYTES,
    ProfileProblem,
    ProfileValidationError,
    profile_limits_check,
    profile_size,
    profile_values_clean,
)
from tests.profile_schema.factories import field_in


@pytest.fixture
def typed_channel(channel: Channel) -> Channel:
    """A channel with the presets and one field of every other type."""
    field_in(channel, "vip", FieldType.BOOLEAN)
    field_in(channel, "age", FieldType.NUMBER)
    field_in(channel, "birthDate", FieldType.DATE)
    field_in(channel, "visitedAt", FieldType.DATETIME)
    field_in(channel, "interests", FieldType.LIST)
    field_in(channel, "scores", FieldType.LIST_OF_NUMBER)
    return channel


def problems_of(channel: Channel, values: dict[str, Any], **options: Any) -> list[ProfileProblem]:
    with pytest.raises(ProfileValidationError) as caught:
        profile_values_clean(channel=channel, values=values, **options)
    return caught.value.problems


def codes_of(channel: Channel, values: dict[str, Any], **options: Any) -> list[tuple[str, str]]:
    return [(p.key, p.code) for p in problems_of(channel, values, **options)]


def test_values_of_every_type_are_returned_normalised_under_bare_keys(
    typed_channel: Channel,
) -> None:
    cleaned = profile_values_clean(
        channel=typed_channel,
        values={
            "name": "김민수",
            "profile.vip": True,
            "age": 41,
            "profile.birthDate": "1984-02-29",
            "visitedAt": 1764300000000.0,
            "interests": ["shoes"],
            "scores": [4.5, -0.0],
        },
    )

    assert cleaned == {
        "name": "김민수",
        "vip": True,
        "age": 41,
        "birthDate": "1984-02-29",
        "visitedAt": 1764300000000,
        "interests": ["shoes"],
        "scores": [4.5, 0.0],
    }


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("vip", "yes", "invalid_type"),
        ("name", 7, "invalid_type"),
        ("age", "41", "invalid_type"),
        ("age", False, "invalid_type"),
        ("birthDate", "1985-02-29", "invalid_date"),
        ("visitedAt", "1764300000000", "invalid_type"),
        ("interests", "shoes", "invalid_type"),
        ("scores", ["4.5"], "invalid_type"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_under_its_full_key(
    typed_channel: Channel, key: str, value: object, code: str
) -> None:
    assert codes_of(typed_channel, {key: value}) == [(f"profile.{key}", code)]


def test_a_type_refusal_names_the_key_the_type_and_the_value(typed_channel: Channel) -> None:
    [problem] = problems_of(typed_channel, {"profile.age": "forty"})

    assert problem.message == (
        "profile.age must be a number (a JSON number, not text; whole numbers within "
        '±9007199254740991); received "forty".'
    )


def test_a_long_value_is_shown_truncated_with_its_length(typed_channel: Channel) -> None:
    [problem] = problems_of(typed_channel, {"name": "n" * 513})

    assert problem.code == "too_long"
    assert problem.message == (
        'profile.name must be a string of at most 512 characters; received "'
        + "n" * 40
        + '…" (513 characters), 513 characters long.'
    )


def test_string_and_list_limits_hold_at_their_edges(typed_channel: Channel) -> None:
    # 200 items of 512 characters would pass 15 KB: each limit is tested on its own.
    at_limit = {"name": "n" * 512, "interests": ["i"] * 199 + ["j" * 512], "scores": [1] * 200}
    over = {"name": "n" * 513, "interests": ["i"] * 201, "scores": [1] * 201}

    assert profile_values_clean(channel=typed_channel, values=at_limit) == at_limit
    assert codes_of(typed_channel, over) == [
        ("profile.name", "too_long"),
        ("profile.interests", "too_many_items"),
        ("profile.scores", "too_many_items"),
    ]


def test_a_too_long_list_item_is_named(typed_channel: Channel) -> None:
    [problem] = problems_of(typed_channel, {"interests": ["ok", "i" * 513]})

    assert (problem.code, problem.message) == (
        "too_long",
        "profile.interests must be a list of at most 200 strings of at most 512 characters "
        "each; received a list of 2 items, whose item 2 is 513 characters long.",
    )


def test_an_unknown_key_is_refused_and_an_admin_is_pointed_to(channel: Channel) -> None:
    [problem] = problems_of(channel, {"shoeSize": 270})

    assert problem == ProfileProblem(
        key="profile.shoeSize",
        code="unknown_key",
        message="profile.shoeSize is not a profile field of this channel; an admin must define "
        "it under profile fields (settings -> profile fields) before values can be stored.",
    )


def test_a_built_in_key_sent_in_the_profile_is_unknown_and_explained(channel: Channel) -> None:
    [problem] = problems_of(channel, {"tags": ["vip"]})

    assert problem.code == "unknown_key"
    assert problem.message.endswith(
        "'tags' is a built-in field, maintained by the system, not a profile key."
    )


def test_a_field_of_another_channel_is_unknown_here(
    channel: Channel, other_channel: Channel
) -> None:
    field_in(other_channel, "age", FieldType.NUMBER)

    assert codes_of(channel, {"age": 3}) == [("profile.age", "unknown_key")]


def test_every_problem_is_listed_not_only_the_first(typed_channel: Channel) -> None:
    problems = codes_of(
        typed_channel,
        {
            "age": "old",
            "email": "not-an-email",
            "shoeSize": 270,
            "name": "fine",
            "mobileNumber": "02-123-4567",
            "birthDate": "1985-02-29",
        },
    )

    assert problems == [
        ("profile.age", "invalid_type"),
        ("profile.email", "invalid_email"),
        ("profile.shoeSize", "unknown_key"),
        ("profile.mobileNumber", "not_mobile_number"),
        ("profile.birthDate", "invalid_date"),
    ]


def test_null_removes_a_key_unless_removal_is_refused(typed_channel: Channel) -> None:
    assert profile_values_clean(channel=typed_channel, values={"age": None}) == {"age": None}
    [problem] = problems_of(typed_channel, {"profile.age": None}, allow_removal=False)

    assert (problem.key, problem.code) == ("profile.age", "not_removable")
    assert problem.message.startswith("profile.age cannot be removed here (null); send a number")


def test_a_key_sent_both_bare_and_prefixed_is_refused(typed_channel: Channel) -> None:
    assert codes_of(typed_channel, {"age": 3, "profile.age": 4}) == [
        ("profile.age", "duplicate_key")
    ]


def test_an_email_keeps_its_local_part_and_lowercases_its_domain(channel: Channel) -> None:
    cleaned = profile_values_clean(channel=channel, values={"email": " Kim.Lee@Example.CO.KR "})

    assert cleaned == {"email": "Kim.Lee@example.co.kr"}


@pytest.mark.parametrize("address", ["kim", "kim@", "@example.com", "kim@@example.com", "a b@x.kr"])
def test_an_invalid_email_is_refused_without_echoing_the_sensitive_value(
    channel: Channel, address: str
) -> None:
    [problem] = problems_of(channel, {"email": address})

    assert problem.code == "invalid_email"
    assert problem.message == (
        "profile.email must be an email address such as name@example.com; received a string "
        "that is not shown (the field is sensitive)."
    )


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("010-1234-5678", "+821012345678"),
        ("01012345678", "+821012345678"),
        ("010 1234 5678", "+821012345678"),
        ("+821012345678", "+821012345678"),
        ("+82 10-1234-5678", "+821012345678"),
        ("+819012345678", "+819012345678"),
    ],
)
def test_a_mobile_number_is_stored_in_e164(channel: Channel, written: str, stored: str) -> None:
    assert profile_values_clean(channel=channel, values={"mobileNumber": written}) == {
        "mobileNumber": stored
    }


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("070-1234-5678", "an internet phone number (070)"),
        ("02-123-4567", "a landline number"),
        ("031-123-4567", "a landline number"),
        ("1588-1234", "a nationwide service number (15xx/16xx/18xx)"),
    ],
)
def test_a_landline_like_number_is_refused_as_mobile_pointing_to_landline_number(
    channel: Channel, written: str, kind: str
) -> None:
    [problem] = problems_of(channel, {"mobileNumber": written})

    assert (problem.key, problem.code) == ("profile.mobileNumber", "not_mobile_number")
    assert problem.message == (
        "profile.mobileNumber must be a mobile number, such as 010-1234-5678 or +821012345678 "
        "(foreign numbers in +country form); received a string that is not shown (the field "
        f"is sensitive), which is {kind}. "
        "Store landline, 070 and 15xx/16xx/18xx numbers under profile.landlineNumber."
    )


@pytest.mark.parametrize("written", ["1234", "010-1234", "phone", "+82 99 1234 5678"])
def test_a_string_that_is_no_phone_number_is_refused(channel: Channel, written: str) -> None:
    assert codes_of(channel, {"mobileNumber": written}) == [
        ("profile.mobileNumber", "invalid_phone_number")
    ]
    assert codes_of(channel, {"landlineNumber": written}) == [
        ("profile.landlineNumber", "invalid_phone_number")
    ]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("02-123-4567", "+8221234567"),
        ("(02) 1234-5678", "+82212345678"),
        ("031-123-4567", "+82311234567"),
        ("070-1234-5678", "+827012345678"),
        ("080-123-4567", "+82801234567"),
        ("1588-1234", "1588-1234"),
        ("15881234", "1588-1234"),
        ("+8215881234", "1588-1234"),
        ("1644-0000", "1644-0000"),
        ("+81312345678", "+81312345678"),
    ],
)
def test_a_landline_number_is_stored_normalised(
    channel: Channel, written: str, stored: str
) -> None:
    assert profile_values_clean(channel=channel, values={"landlineNumber": written}) == {
        "landlineNumber": stored
    }


def test_a_mobile_number_is_refused_as_landline_pointing_to_mobile_number(
    channel: Channel,
) -> None:
    [problem] = problems_of(channel, {"landlineNumber": "010-1234-5678"})

    assert (problem.key, problem.code) == ("profile.landlineNumber", "not_landline_number")
    assert problem.message == (
        "profile.landlineNumber must be a landline, 070, 080 or nationwide service number, "
        'such as 02-123-4567 or 1588-1234; received "010-1234-5678", which is a mobile number. '
        "Store mobile numbers under profile.mobileNumber."
    )


def test_a_phone_number_with_an_extension_is_refused(channel: Channel) -> None:
    assert codes_of(channel, {"landlineNumber": "02-123-4567 ext. 12"}) == [
        ("profile.landlineNumber", "invalid_phone_number")
    ]


def test_a_number_for_a_phone_key_is_a_type_error(channel: Channel) -> None:
    assert codes_of(channel, {"mobileNumber": 1012345678}) == [
        ("profile.mobileNumber", "invalid_type")
    ]


def _string_fields(channel: Channel, count: int) -> list[str]:
    keys = [f"k{index:03d}" for index in range(count)]
    for key in keys:
        field_in(channel, key)
    return keys


def test_values_with_256_keys_pass_and_257_are_refused(channel: Channel) -> None:
    keys = _string_fields(channel, 257)
    values = {key: "v" for key in keys}

    assert (
        len(profile_values_clean(channel=channel, values=dict(list(values.items())[:256]))) == 256
    )
    [problem] = problems_of(channel, values)
    assert problem == ProfileProblem(
        key="profile",
        code="too_many_keys",
        message="A profile holds at most 256 keys; this one would hold 257. Remove keys (send "
        "null) or leave some out.",
    )


def _values_of_size(keys: list[str], size: int) -> dict[str, str]:
    """Values under KEYS (3-byte characters, then 1-byte ones) whose profile is SIZE bytes."""
    values = {key: "" for key in keys}
    missing = size - profile_size(values)
    for key in keys:
        wide = min(missing // 3, 512)
        values[key] = "가" * wide
        missing -= 3 * wide
        narrow = min(missing, 512 - wide)
        values[key] += "x" * narrow
        missing -= narrow
    assert missing == 0
    return values


def test_values_of_exactly_15_kb_pass_and_one_byte_more_is_refused(channel: Channel) -> None:
    keys = _string_fields(channel, 12)
    at_limit = _values_of_size(keys, MAX_PROFILE_BYTES)
    over = _values_of_size(keys, MAX_PROFILE_BYTES + 1)

    assert profile_values_clean(channel=channel, values=at_limit) == at_limit
    [problem] = problems_of(channel, over)
    assert problem == ProfileProblem(
        key="profile",
        code="too_large",
        message="A profile is at most 15360 bytes (15 KB) as JSON; this one would be 15361 bytes. "
        "Shorten or remove values.",
    )


def test_a_whole_profile_is_checked_at_its_limits() -> None:
    profile_limits_check({f"k{i}": 1 for i in range(256)})
    profile_limits_check({"a": "x" * (MAX_PROFILE_BYTES - 9)})

    with pytest.raises(ProfileValidationError) as too_many:
        profile_limits_check({f"k{i}": 1 for i in range(257)})
    with pytest.raises(ProfileValidationError) as too_large:
        profile_limits_check({"a": "x" * (MAX_PROFILE_BYTES - 8)})

    assert [(p.key, p.code) for p in too_many.value.problems] == [("profile", "too_many_keys")]
    assert [(p.key, p.code) for p in too_large.value.problems] == [("profile", "too_large")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "profile",
    [
        {},
        {"a": "x" * (MAX_PROFILE_BYTES - 9)},
        {"name": "김민수", "emoji": "🎉👍", "mixed": "é\u2028\u007f"},
        {"escapes": 'quote " backslash \\ newline \n tab \t bell \x07 slash /'},
        {"list": ["가", "b", ["nested", [1, 2.5]]], "empty": [], "obj": {"z": None, "a": {}}},
        {"n": 42, "f": 3.0, "tiny": 1.5e-07, "big": 1e16, "huge": 1.2345678901234568e17},
        {"neg": -0.0, "pi": 3.141592653589793, "max": 9007199254740991, "t": True, "f": False},
        {"deep": ["a", ["b", {"c": [1, -2, None, True]}]], "ko": "가나다", "q": '"\\'},
    ],
)
def test_profile_size_is_what_postgresql_counts(profile: dict[str, Any]) -> None:
    from django.db.models.fields.json import JSONField

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT octet_length(%s::jsonb::text)",
            [JSONField().get_db_prep_value(profile, connection)],
        )
        assert profile_size(profile) == cursor.fetchone()[0]
