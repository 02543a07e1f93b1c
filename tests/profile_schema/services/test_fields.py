"""Creating and ordering profile fields: the rules a definition follows; refusals store
nothing."""

from __future__ import annotations

import pytest

from crm.models import AuditAction, AuditEvent, Channel, Role
from crm.permissions import Viewer
from profile_schema.models import FieldType, Masking, ProfileField
from profile_schema.presets import BUILT_IN_FIELDS, PROFILE_PRESETS
from profile_schema.services import (
    profile_field_create,
    profile_field_delete,
    profile_fields_reorder,
)
from tests.crm.factories import manager_in
from tests.profile_schema.factories import field_in
from tests.profile_schema.services.outcomes import error_of, field_snapshot

PRESET_COUNT = len(BUILT_IN_FIELDS) + len(PROFILE_PRESETS)


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


# -- reorder ----------------------------------------------------------------------------------


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


# -- audit records ----------------------------------------------------------------------------


def test_a_reorder_records_the_fields_that_moved_as_the_viewer(channel: Channel) -> None:
    keys = list(ProfileField.objects.filter(channel=channel).values_list("key", flat=True))
    owner = Role.objects.get(channel=channel, name="owner")
    user = manager_in(channel, owner.name).user
    viewer = Viewer(channel=channel, permissions=frozenset(owner.permissions), user=user)
    wanted = [keys[1], keys[0], *keys[2:]]

    profile_fields_reorder(channel=channel, keys=wanted, viewer=viewer)
    profile_fields_reorder(channel=channel, keys=wanted, viewer=viewer)  # nothing moves

    records = AuditEvent.objects.filter(channel_id=channel.pk, action=AuditAction.FIELD_CHANGE)
    assert [(r.keys, r.detail, r.actor_id) for r in records] == [
        (sorted(keys[:2]), {"changed": ["order"]}, user.pk)
    ]


def test_opening_a_channel_records_no_field_creation(channel: Channel) -> None:
    # the presets come with the channel; a field defined later is recorded
    assert not AuditEvent.objects.filter(channel_id=channel.pk).exists()
    field_in(channel, "grade")
    assert list(AuditEvent.objects.values_list("action", "keys", "actor_type")) == [
        (AuditAction.FIELD_CREATE, ["profile.grade"], "system")
    ]
