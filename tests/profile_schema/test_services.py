"""Profile field services: create, update, reorder, type change, delete; refusals store nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from crm.models import Channel
from profile_schema import stored_values
from profile_schema.models import FieldType, Masking, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS
from profile_schema.services import (
    StaleConfirmation,
    TypeChangeBlocked,
    profile_field_create,
    profile_field_delete,
    profile_field_delete_preview,
    profile_field_type_change,
    profile_field_type_change_blockers,
    profile_field_update,
    profile_fields_reorder,
)
from tests.contacts.factories import ContactFactory
from tests.profile_schema.factories import field_in

PRESET_COUNT = len(BUILT_IN_FIELDS) + len(PROFILE_PRESETS)


def field_snapshot(channel: Channel) -> list[tuple[Any, ...]]:
    return list(
        ProfileField.objects.filter(channel=channel)
        .order_by("key")
        .values_list("key", "name", "type", "sensitive", "masking", "shown_in_profile", "order")
    )


def profiles(channel: Channel) -> list[dict[str, Any]]:
    return list(
        Contact.objects.filter(channel=channel).order_by("id").values_list("profile", flat=True)
    )


def error_of(call: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call(**kwargs)
    return caught.value.message_dict


# -- create -----------------------------------------------------------------------------------


def test_a_field_is_created_with_its_full_key_after_the_others(channel: Channel) -> None:
    field = profile_field_create(
        channel=channel,
        key="birthDate",
        name=" Birth date ",
        type=FieldType.DATE,
        sensitive=True,
        shown_in_profile=False,
    )

    assert (field.key, field.name, field.type, field.built_in) == (
        "profile.birthDate",
        "Birth date",
        "date",
        False,
    )
    assert (field.sensitive, field.masking, field.shown_in_profile, field.order) == (
        True,
        Masking.FULL,
        False,
        PRESET_COUNT,
    )


def test_a_prefixed_key_is_accepted_too(channel: Channel) -> None:
    assert profile_field_create(
        channel=channel, key="profile.age", name="Age", type="number"
    ).key == ("profile.age")


@pytest.mark.parametrize(
    ("key", "type_", "masking", "errors"),
    [
        ("Age", "number", "full", {"key"}),
        ("shoe_size", "number", "full", {"key"}),
        ("shoe size", "number", "full", {"key"}),
        ("1st", "number", "full", {"key"}),
        ("a" * 64, "number", "full", {"key"}),
        ("web.browser", "string", "full", {"key"}),
        ("tags", "list", "full", {"key"}),
        ("lastSeenAt", "datetime", "full", {"key"}),
        ("web", "string", "full", {"key"}),
        ("email", "string", "full", {"key"}),
        ("age", "money", "full", {"type"}),
        ("age", "number", "partial", {"masking"}),
        ("age", "number", "hidden", {"masking"}),
    ],
)
def test_a_field_that_breaks_a_rule_is_refused_and_nothing_is_stored(
    channel: Channel, key: str, type_: str, masking: str, errors: set[str]
) -> None:
    before = field_snapshot(channel)

    refused = error_of(
        profile_field_create, channel=channel, key=key, name="X", type=type_, masking=masking
    )

    assert set(refused) == errors
    assert field_snapshot(channel) == before


def test_the_refusals_say_what_is_allowed(channel: Channel) -> None:
    assert error_of(
        profile_field_create, channel=channel, key="Age", name="Age", type="number"
    ) == {
        "key": [
            "'Age': a data key is camelCase letters and digits, starting with a lowercase letter, "
            "at most 63 characters (e.g. 'birthDate' or 'profile.birthDate')."
        ]
    }
    assert error_of(profile_field_create, channel=channel, key="tags", name="T", type="list") == {
        "key": ["'tags' is the name of a built-in field; choose another data key."]
    }
    assert error_of(
        profile_field_create, channel=channel, key="email", name="E", type="string"
    ) == {"key": ["profile.email is already defined in this channel."]}
    assert error_of(profile_field_create, channel=channel, key="age", name=" ", type="number") == {
        "name": ["A display name is 1 to 100 characters; got 0."]
    }


def test_the_same_key_may_exist_in_two_channels(channel: Channel, other_channel: Channel) -> None:
    field_in(channel, "age", FieldType.NUMBER)

    assert field_in(other_channel, "age", FieldType.STRING).type == "string"


def test_a_deleted_preset_with_a_rule_comes_back_only_as_a_string(channel: Channel) -> None:
    email = ProfileField.objects.get(channel=channel, key="profile.email")
    profile_field_delete(field=email, confirm_count=0)

    refused = error_of(profile_field_create, channel=channel, key="email", name="E", type="number")

    assert refused == {
        "type": ["profile.email has a rule for its values and stays a String field."]
    }
    assert field_in(channel, "email", FieldType.STRING).key == "profile.email"


# -- update and reorder -----------------------------------------------------------------------


def test_a_field_changes_name_flags_and_order_but_keeps_key_and_type(channel: Channel) -> None:
    field = field_in(channel, "grade")

    profile_field_update(
        field=field,
        name="Grade",
        order=3,
        sensitive=True,
        masking="partial",
        shown_in_profile=False,
    )

    field.refresh_from_db()
    assert (field.key, field.type, field.name, field.order) == (
        "profile.grade",
        "string",
        "Grade",
        3,
    )
    assert (field.sensitive, field.masking, field.shown_in_profile) == (True, "partial", False)


def test_a_built_in_field_changes_its_flags_and_order_but_not_its_name(channel: Channel) -> None:
    field = ProfileField.objects.get(channel=channel, key="lastSeenAt")

    profile_field_update(field=field, sensitive=True, shown_in_profile=False, order=0)
    refused = error_of(profile_field_update, field=field, name="Seen")

    field.refresh_from_db()
    assert refused == {"name": ["lastSeenAt is a built-in field; its display name is fixed."]}
    assert (field.name, field.sensitive, field.shown_in_profile, field.order) == (
        "Last seen",
        True,
        False,
        0,
    )


def test_partial_masking_is_refused_on_a_number_field(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)

    refused = error_of(profile_field_update, field=field, masking="partial", sensitive=True)

    field.refresh_from_db()
    assert refused == {"masking": ["A number field masks full; partial masking is for strings."]}
    assert (field.masking, field.sensitive) == ("full", False)


def test_fields_are_reordered_by_a_list_of_every_key(channel: Channel) -> None:
    keys = list(ProfileField.objects.filter(channel=channel).values_list("key", flat=True))
    wanted = list(reversed(keys))

    profile_fields_reorder(channel=channel, keys=wanted)

    assert (
        list(ProfileField.objects.filter(channel=channel).values_list("key", flat=True)) == wanted
    )
    assert ProfileField.objects.get(channel=channel, key=wanted[0]).order == 0


def test_a_reorder_with_missing_unknown_or_repeated_keys_changes_nothing(
    channel: Channel,
) -> None:
    keys = list(ProfileField.objects.filter(channel=channel).values_list("key", flat=True))
    before = field_snapshot(channel)
    wanted = [*keys[2:], "profile.shoeSize", keys[2]]

    refused = error_of(profile_fields_reorder, channel=channel, keys=wanted)

    assert refused == {
        "keys": [
            f"Listed twice: {keys[2]}.",
            "Not fields here: profile.shoeSize.",
            f"Missing (list every field of the channel): {', '.join(sorted(keys[:2]))}.",
        ]
    }
    assert field_snapshot(channel) == before


# -- type change ------------------------------------------------------------------------------


def _midnight_in_seoul_ms(day: str) -> int:
    local = datetime.fromisoformat(f"{day}T00:00:00+09:00")
    return int(local.astimezone(UTC).timestamp() * 1000)


CONVERSIONS = [
    (
        "string",
        "number",
        ["12", "-3.5", "0", "0.25", "123456789012345"],
        [12, -3.5, 0, 0.25, 123456789012345],
    ),
    ("string", "boolean", ["true", "false"], [True, False]),
    ("string", "date", ["2024-02-29", "0001-01-01"], ["2024-02-29", "0001-01-01"]),
    ("string", "list", ["a"], [["a"]]),
    ("number", "string", [42, 3.5, 1e16], ["42", "3.5", "10000000000000000"]),
    ("number", "boolean", [0, 1, 1.0], [False, True, True]),
    ("number", "datetime", [0, 1764300000000, 3.0], [0, 1764300000000, 3]),
    ("number", "listOfNumber", [4.5], [[4.5]]),
    ("boolean", "string", [True, False], ["true", "false"]),
    ("date", "string", ["2024-02-29"], ["2024-02-29"]),
    ("date", "datetime", ["2025-11-28"], [_midnight_in_seoul_ms("2025-11-28")]),
    ("datetime", "number", [1764300000000], [1764300000000]),
    (
        "datetime",
        "date",
        [1764300000000, _midnight_in_seoul_ms("2025-11-28") - 1],
        ["2025-11-28", "2025-11-27"],
    ),
    (
        "datetime",
        "string",
        [1764300000000, 0],
        ["2025-11-28T03:20:00.000Z", "1970-01-01T00:00:00.000Z"],
    ),
    ("list", "string", [["only"]], ["only"]),
    ("list", "listOfNumber", [["1", "2.5"], []], [[1, 2.5], []]),
    ("listOfNumber", "list", [[1, 2.5]], [["1", "2.5"]]),
    ("listOfNumber", "number", [[7]], [7]),
]


@pytest.mark.parametrize(("source", "target", "before", "after"), CONVERSIONS)
def test_a_type_change_converts_every_stored_value(
    channel: Channel, source: str, target: str, before: list[Any], after: list[Any]
) -> None:
    field = field_in(channel, "thing", source)
    for value in before:
        ContactFactory(channel=channel, profile={"thing": value, "name": "Kim"})

    changed = profile_field_type_change(field=field, type=target)

    field.refresh_from_db()
    stored = [profile["thing"] for profile in profiles(channel)]
    assert field.type == target
    assert json.dumps(stored) == json.dumps(after)
    assert all(profile["name"] == "Kim" for profile in profiles(channel))
    assert changed.converted == sum(
        json.dumps(b) != json.dumps(a) for b, a in zip(before, after, strict=True)
    )


BLOCKERS = [
    ("string", "number", ["007", "1e5", "abc", " 1", "1234567890123456", "1.", ""]),
    ("string", "boolean", ["True", "yes"]),
    ("string", "date", ["2023-02-29", "2024-2-1", "0000-01-01", "2024-04-31"]),
    ("number", "boolean", [2, -1, 0.5]),
    ("number", "datetime", [-1, 1.5, 253402300800000]),
    ("date", "datetime", ["1970-01-01"]),
    ("datetime", "date", [253402300799999]),
    ("list", "string", [[], ["a", "b"]]),
    ("list", "listOfNumber", [["1", "x"]]),
    ("listOfNumber", "number", [[], [1, 2]]),
    ("boolean", "number", [True]),
    ("date", "list", ["2024-01-01"]),
]


CONVERTIBLE = {
    ("string", "number"): "12",
    ("string", "boolean"): "true",
    ("string", "date"): "2024-02-29",
    ("number", "boolean"): 1,
    ("number", "datetime"): 1764300000000,
    ("date", "datetime"): "2025-01-01",
    ("datetime", "date"): 1764300000000,
    ("list", "string"): ["one"],
    ("list", "listOfNumber"): ["1"],
    ("listOfNumber", "number"): [1],
}


@pytest.mark.parametrize(("source", "target", "blocking"), BLOCKERS)
def test_a_type_change_is_refused_with_the_count_of_blocking_contacts(
    channel: Channel, other_channel: Channel, source: str, target: str, blocking: list[Any]
) -> None:
    field = field_in(channel, "thing", source)
    for value in blocking:
        ContactFactory(channel=channel, profile={"thing": value})
    if (source, target) in CONVERTIBLE:
        ContactFactory(channel=channel, profile={"thing": CONVERTIBLE[source, target]})
    ContactFactory(channel=channel, profile={"other": "x"})
    ContactFactory(channel=other_channel, profile={"thing": blocking[0]})
    before = profiles(channel)

    with pytest.raises(TypeChangeBlocked) as caught:
        profile_field_type_change(field=field, type=target)

    field.refresh_from_db()
    assert caught.value.count == len(blocking)
    assert profile_field_type_change_blockers(field=field, type=target) == len(blocking)
    assert (field.type, profiles(channel)) == (source, before)


def test_the_refusal_says_how_many_block_and_what_converts(channel: Channel) -> None:
    field = field_in(channel, "zip")
    for value in ["06236", "abc", "12"]:
        ContactFactory(channel=channel, profile={"zip": value})

    with pytest.raises(TypeChangeBlocked) as caught:
        profile_field_type_change(field=field, type=FieldType.NUMBER)

    assert caught.value.message_dict == {
        "type": [
            "2 contacts hold a value of profile.zip that cannot become Number. From string to "
            "number: only when the text is a plain decimal number such as '42' or '-3.5' (at "
            "most 15 digits on each side of the point, no leading zero). Change or remove those "
            "values first."
        ]
    }


def test_any_type_change_is_allowed_while_no_contact_holds_a_value(channel: Channel) -> None:
    field = field_in(channel, "flag", FieldType.BOOLEAN)
    ContactFactory(channel=channel, profile={"name": "Kim"})

    changed = profile_field_type_change(field=field, type=FieldType.DATE)

    field.refresh_from_db()
    assert (field.type, changed.converted) == ("date", 0)


def test_a_type_change_from_string_turns_partial_masking_into_full(channel: Channel) -> None:
    field = field_in(channel, "code", FieldType.STRING, sensitive=True, masking=Masking.PARTIAL)

    profile_field_type_change(field=field, type=FieldType.LIST)

    field.refresh_from_db()
    assert (field.type, field.masking, field.sensitive) == ("list", "full", True)


@pytest.mark.parametrize(
    ("key", "type_", "error"),
    [
        ("lastSeenAt", "number", "lastSeenAt is a built-in field; its type is fixed."),
        (
            "profile.email",
            "list",
            "profile.email has a rule for its values and stays a String field.",
        ),
        (
            "profile.name",
            "money",
            "'money' is not a type; types: boolean, string, number, date, datetime, list, "
            "listOfNumber.",
        ),
    ],
)
def test_some_type_changes_are_refused_whatever_the_values(
    channel: Channel, key: str, type_: str, error: str
) -> None:
    field = ProfileField.objects.get(channel=channel, key=key)

    assert error_of(profile_field_type_change, field=field, type=type_) == {"type": [error]}
    field.refresh_from_db()
    assert field.type != type_


def test_a_type_change_converts_in_batches(channel: Channel, monkeypatch: Any) -> None:
    monkeypatch.setattr(stored_values, "BATCH_SIZE", 2)
    field = field_in(channel, "points")
    for value in ["1", "2", "3", "4", "5"]:
        ContactFactory(channel=channel, profile={"points": value})

    with CaptureQueriesContext(connection) as queries:
        changed = profile_field_type_change(field=field, type=FieldType.NUMBER)

    updates = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE contacts_contact")
    ]
    assert changed.converted == 5
    assert len(updates) == 3
    assert [p["points"] for p in profiles(channel)] == [1, 2, 3, 4, 5]


# -- delete -----------------------------------------------------------------------------------


def test_the_delete_preview_counts_the_contacts_holding_a_value(
    channel: Channel, other_channel: Channel
) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(3, channel=channel, profile={"grade": "gold"})
    ContactFactory(channel=channel, profile={"name": "Kim"})
    ContactFactory(channel=other_channel, profile={"grade": "gold"})

    assert profile_field_delete_preview(field=field) == 3


def test_a_stale_confirmation_is_refused_and_nothing_is_removed(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "gold"})
    confirmed = profile_field_delete_preview(field=field)
    ContactFactory(channel=channel, profile={"grade": "silver"})
    before = profiles(channel)

    with pytest.raises(StaleConfirmation) as caught:
        profile_field_delete(field=field, confirm_count=confirmed)

    assert caught.value.count == 3
    assert caught.value.message_dict == {
        "confirm_count": [
            "3 contacts now hold a value of profile.grade, not 2 as confirmed; review the new "
            "count and confirm again."
        ]
    }
    assert ProfileField.objects.filter(pk=field.pk).exists()
    assert profiles(channel) == before


def test_a_delete_removes_the_values_from_every_contact_in_batches(
    channel: Channel, other_channel: Channel, monkeypatch: Any
) -> None:
    monkeypatch.setattr(stored_values, "BATCH_SIZE", 2)
    field = field_in(channel, "grade")
    for grade in ["gold", "silver", "bronze", "gold", "tin"]:
        ContactFactory(channel=channel, profile={"grade": grade, "name": "Kim"})
    ContactFactory(channel=channel, profile={"name": "Lee"})
    theirs = ContactFactory(channel=other_channel, profile={"grade": "gold"})

    with CaptureQueriesContext(connection) as queries:
        removed = profile_field_delete(field=field, confirm_count=5)

    updates = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE contacts_contact")
    ]
    assert removed == 5
    assert len(updates) == 2 * 3  # the batches, then the final sweep
    assert profiles(channel) == [{"name": "Kim"}] * 5 + [{"name": "Lee"}]
    assert not ProfileField.objects.filter(pk=field.pk).exists()
    theirs.refresh_from_db()
    assert theirs.profile == {"grade": "gold"}


def test_a_preset_can_be_deleted_but_a_built_in_cannot(channel: Channel) -> None:
    referrer = ProfileField.objects.get(channel=channel, key="profile.referrer")
    built_in = ProfileField.objects.get(channel=channel, key="tags")

    profile_field_delete(field=referrer, confirm_count=0)
    refused = error_of(profile_field_delete, field=built_in, confirm_count=0)

    assert refused == {"key": ["tags is a built-in field; it cannot be deleted."]}
    assert list(
        ProfileField.objects.filter(
            channel=channel, key__in=["profile.referrer", "tags"]
        ).values_list("key", flat=True)
    ) == ["tags"]
