"""Changing a profile field: name, flags, order, index flag and type in one transaction; the
stored values of a new type convert after, in batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Channel
from profile_schema import stored_values
from profile_schema.models import FieldType, Masking, ProfileField
from profile_schema.services import (
    TypeChangeBlocked,
    profile_field_change,
    profile_field_change_save,
    profile_field_convert_batch,
    profile_field_type_change,
    profile_field_type_change_blockers,
    profile_field_update,
)
from tests.contacts.factories import ContactFactory
from tests.profile_schema.factories import field_in
from tests.profile_schema.services.outcomes import error_of, profiles

# -- name, flags and order --------------------------------------------------------------------


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


# -- one change, one transaction (profile_field_change) ---------------------------------------


def stored(field: ProfileField) -> dict[str, Any]:
    """FIELD's definition as the database holds it."""
    columns = ["name", "type", "sensitive", "masking", "shown_in_profile", "order", "indexed"]
    return ProfileField.objects.filter(pk=field.pk).values(*columns, "index_state").get()


def test_a_type_and_flags_change_together_and_the_values_convert(channel: Channel) -> None:
    field = field_in(channel, "points", FieldType.STRING, masking=Masking.PARTIAL, sensitive=True)
    for value in ["12", "-3.5"]:
        ContactFactory(channel=channel, profile={"points": value})

    changed = profile_field_change(
        field=field, type=FieldType.NUMBER, name="Points", order=3, indexed=True
    )

    expected = {
        "name": "Points",
        "type": "number",
        "sensitive": True,
        "masking": "full",  # partial masking is for strings
        "shown_in_profile": True,
        "order": 3,
        "indexed": True,
        "index_state": "pending",
    }
    assert changed.converted == 2
    assert stored(field) == expected
    assert {name: getattr(field, name) for name in expected} == expected
    assert [p["points"] for p in profiles(channel)] == [12, -3.5]


def test_the_definition_is_saved_once_for_a_type_and_flags(channel: Channel) -> None:
    field = field_in(channel, "points")

    with CaptureQueriesContext(connection) as queries:
        profile_field_change(field=field, type=FieldType.NUMBER, name="Points", sensitive=True)

    saves = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len([s for s in saves if '"profile_schema_profilefield"' in s]) == 1


def test_a_flag_refused_for_the_new_type_leaves_the_type_and_values_unchanged(
    channel: Channel,
) -> None:
    field = field_in(channel, "hobby", FieldType.STRING, sensitive=True)
    ContactFactory(channel=channel, profile={"hobby": "golf"})
    before, values = stored(field), profiles(channel)

    refused = error_of(
        profile_field_change, field=field, type=FieldType.LIST, name="Hobbies", indexed=True
    )

    assert refused == {
        "indexed": [
            "profile.hobby is a List field, whose filters use the profile index already; "
            "per-key indexes serve ranges and sorting of String, Number, Date, Datetime fields."
        ]
    }
    assert (stored(field), profiles(channel)) == (before, values)
    assert (field.type, field.name) == ("string", "hobby")


def test_an_indexed_field_keeps_its_type_and_index_when_the_new_type_cannot_be_indexed(
    channel: Channel,
) -> None:
    field = field_in(channel, "hobby", FieldType.STRING, indexed=True)
    ContactFactory(channel=channel, profile={"hobby": "golf"})
    before, values = stored(field), profiles(channel)

    refused = error_of(profile_field_change, field=field, type=FieldType.LIST, indexed=True)

    assert refused == {
        "indexed": [
            "profile.hobby is a List field, whose filters use the profile index already; "
            "per-key indexes serve ranges and sorting of String, Number, Date, Datetime fields."
        ]
    }
    assert before["indexed"] is True
    assert (stored(field), profiles(channel)) == (before, values)
    assert (field.type, field.indexed) == ("string", True)


def test_a_masking_is_checked_against_the_new_type(channel: Channel) -> None:
    field = field_in(channel, "code", FieldType.STRING)
    before = stored(field)

    refused = error_of(
        profile_field_change, field=field, type=FieldType.NUMBER, masking=Masking.PARTIAL
    )

    assert refused == {"masking": ["A number field masks full; partial masking is for strings."]}
    assert stored(field) == before


def test_a_blocked_type_leaves_the_flags_unchanged(channel: Channel) -> None:
    field = field_in(channel, "code", FieldType.STRING)
    for value in ["12", "A-7"]:
        ContactFactory(channel=channel, profile={"code": value})
    before, values = stored(field), profiles(channel)

    with pytest.raises(TypeChangeBlocked) as caught:
        profile_field_change(
            field=field, type=FieldType.NUMBER, name="Code", order=1, sensitive=True, indexed=True
        )

    assert caught.value.count == 1
    assert caught.value.message_dict == {
        "type": [
            "1 contacts hold a value of profile.code that cannot become Number. From string to "
            "number: only when the text is a plain decimal number such as '42' or '-3.5' (at "
            "most 15 digits on each side of the point, no leading zero). Change or remove those "
            "values first."
        ]
    }
    assert (stored(field), profiles(channel)) == (before, values)
    assert (field.name, field.indexed) == ("code", False)


def test_a_retype_to_a_type_without_index_unmarks_the_field(channel: Channel) -> None:
    field = field_in(channel, "hobby", FieldType.STRING, indexed=True)

    changed = profile_field_change(field=field, type=FieldType.LIST, shown_in_profile=False)

    assert changed.converted == 0
    assert stored(field) == {
        "name": "hobby",
        "type": "list",
        "sensitive": False,
        "masking": "full",
        "shown_in_profile": False,
        "order": field.order,
        "indexed": False,
        "index_state": "pending",  # the sync drops the index after commit
    }


# -- the type change's batches, one at a time -------------------------------------------------


def test_after_the_switch_the_values_convert_one_batch_at_a_time_and_resume(
    channel: Channel, other_channel: Channel
) -> None:
    field = field_in(channel, "points")
    field_in(other_channel, "points")
    ours = []
    for value in ["1", "2", "3"]:
        ours.append(ContactFactory(channel=channel, profile={"points": value}))
        ContactFactory(channel=other_channel, profile={"points": value})

    source = profile_field_change_save(field=field, type=FieldType.NUMBER)
    assert (source, stored(field)["type"]) == ("string", "number")  # switched first

    assert profile_field_convert_batch(field=field, source=source, after=0) == (ours[2].pk, 3)
    assert profile_field_convert_batch(field=field, source=source, after=0) == (ours[2].pk, 0)
    assert profile_field_convert_batch(field=field, source=source, after=ours[2].pk) == (None, 0)
    assert [p["points"] for p in profiles(channel)] == [1, 2, 3]
    assert [p["points"] for p in profiles(other_channel)] == ["1", "2", "3"]


def test_a_type_change_resumes_from_the_last_batch_done(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored_values, "BATCH_SIZE", 2)
    field = field_in(channel, "points")
    contacts = [ContactFactory(channel=channel, profile={"points": str(n)}) for n in range(5)]
    source = profile_field_change_save(field=field, type=FieldType.NUMBER)

    first = profile_field_convert_batch(field=field, source=source, after=0)
    assert first == (contacts[1].pk, 2)
    assert [p["points"] for p in profiles(channel)] == [0, 1, "2", "3", "4"]

    # A job stopped here resumes from the last id it recorded.
    assert profile_field_convert_batch(field=field, source=source, after=contacts[1].pk) == (
        contacts[3].pk,
        2,
    )
    assert profile_field_convert_batch(field=field, source=source, after=contacts[3].pk) == (
        contacts[4].pk,
        1,
    )
    assert profile_field_convert_batch(field=field, source=source, after=contacts[4].pk) == (
        None,
        0,
    )
    assert [p["points"] for p in profiles(channel)] == [0, 1, 2, 3, 4]
