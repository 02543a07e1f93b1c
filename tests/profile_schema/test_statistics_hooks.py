"""The field services keep the planner statistics of range keys in step (after commit)."""

from __future__ import annotations

import pytest

from crm.models import Channel
from profile_schema.background import index_syncs_wait
from profile_schema.models import FieldType
from profile_schema.services import profile_field_delete, profile_field_type_change
from profile_schema.statistics import statistics_name_for, statistics_present
from tests.profile_schema.factories import field_in
from tests.profile_schema.test_indexes import WAIT_SECONDS, _no_index_left_behind  # noqa: F401

transactional = pytest.mark.django_db(transaction=True)


def present(key: str) -> bool:
    index_syncs_wait(WAIT_SECONDS)
    return statistics_name_for(key) in statistics_present()


@transactional
def test_creating_retyping_and_deleting_fields_sync_the_statistics(channel: Channel) -> None:
    assert present("profile.lastCheckoutCompletedAt")  # the Datetime preset of every channel
    field = field_in(channel, "points", FieldType.NUMBER)
    assert present("profile.points")

    profile_field_type_change(field=field, type=FieldType.STRING)
    assert not present("profile.points")
    profile_field_type_change(field=field, type=FieldType.NUMBER)
    assert present("profile.points")

    profile_field_delete(field=field, confirm_count=0)
    assert not present("profile.points")
