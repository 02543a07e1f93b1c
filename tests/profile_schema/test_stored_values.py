"""The stored values of a key, spoken to the contacts table in SQL: counted, converted and
removed in batches that start from a contact id, each idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from contacts.models import Contact
from crm.models import Channel
from profile_schema.conversions import conversion_for
from profile_schema.models import FieldType
from profile_schema.stored_values import (
    stored_values_convert_batch,
    stored_values_count,
    stored_values_remove,
    stored_values_remove_batch,
    stored_values_walk,
)
from tests.contacts.factories import ContactFactory

TO_NUMBER = conversion_for(FieldType.STRING, FieldType.NUMBER)


def values(channel: Channel, key: str) -> list[Any]:
    rows = Contact.objects.filter(channel=channel).order_by("id")
    return [profile.get(key, "-") for profile in rows.values_list("profile", flat=True)]


def convert(channel: Channel, after: int) -> tuple[int | None, int]:
    return stored_values_convert_batch(
        channel_id=channel.pk,
        key="points",
        conversion=TO_NUMBER,
        timezone="Asia/Seoul",
        after=after,
        batch_size=2,
    )


@pytest.mark.django_db
def test_the_count_is_of_the_channels_contacts_holding_the_key(
    channel: Channel, other_channel: Channel
) -> None:
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "gold"})
    ContactFactory(channel=channel, profile={"grade": None})  # a JSON null is a value held
    ContactFactory(channel=channel, profile={"name": "Kim"})
    ContactFactory(channel=other_channel, profile={"grade": "gold"})

    assert stored_values_count(channel_id=channel.pk, key="grade") == 3
    assert stored_values_count(channel_id=channel.pk, key="nothing") == 0


@pytest.mark.django_db
def test_a_conversion_batch_starts_after_an_id_and_says_where_it_stopped(
    channel: Channel, other_channel: Channel
) -> None:
    ours = [ContactFactory(channel=channel, profile={"points": str(n)}) for n in range(4)]
    ContactFactory(channel=other_channel, profile={"points": "9"})

    assert convert(channel, ours[0].pk) == (ours[2].pk, 2)
    assert values(channel, "points") == ["0", 1, 2, "3"]
    assert convert(channel, ours[0].pk) == (ours[2].pk, 0)  # run again: nothing changes
    assert values(channel, "points") == ["0", 1, 2, "3"]
    assert convert(channel, ours[2].pk) == (ours[3].pk, 1)
    assert convert(channel, ours[3].pk) == (None, 0)
    assert values(other_channel, "points") == ["9"]


@pytest.mark.django_db
def test_a_removal_batch_counts_only_the_values_it_removed(channel: Channel) -> None:
    ours = [
        ContactFactory(channel=channel, profile=profile)
        for profile in ({"grade": "a"}, {"name": "Kim"}, {"grade": "b", "name": "Lee"})
    ]

    first = stored_values_remove_batch(channel_id=channel.pk, key="grade", after=0, batch_size=2)
    again = stored_values_remove_batch(channel_id=channel.pk, key="grade", after=0, batch_size=2)

    assert (first, again) == ((ours[1].pk, 1), (ours[1].pk, 0))
    assert values(channel, "grade") == ["-", "-", "b"]
    assert stored_values_remove(channel_id=channel.pk, key="grade", batch_size=2) == 1
    assert values(channel, "name") == ["-", "Kim", "Lee"]


def test_a_walk_runs_the_step_from_the_start_until_nothing_is_left() -> None:
    steps: list[int] = []
    plan = {0: (5, 2), 5: (9, 0), 9: (None, 0)}

    def step(after: int) -> tuple[int | None, int]:
        steps.append(after)
        return plan[after]

    assert stored_values_walk(step) == 2
    assert steps == [0, 5, 9]
