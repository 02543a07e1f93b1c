"""Reads of profile field definitions, scoped to the viewer's channel in one place."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from crm.models import Channel
from crm.permissions import Viewer
from profile_schema.models import FieldType, ProfileField
from profile_schema.selectors import profile_field_of, profile_fields_in, profile_fields_of
from profile_schema.services import profile_field_update
from tests.profile_schema.factories import field_in


@pytest.mark.django_db
def test_the_fields_of_a_viewer_are_their_channels_by_order_then_key(
    channel: Channel, other_channel: Channel
) -> None:
    field_in(channel, "zeta", FieldType.NUMBER)
    alpha = field_in(channel, "alpha")
    profile_field_update(field=alpha, order=0)  # now level with the first built-in field
    field_in(other_channel, "theirs")
    expected = list(
        ProfileField.objects.filter(channel=channel)
        .order_by("order", "key")
        .values_list("key", flat=True)
    )

    with CaptureQueriesContext(connection) as queries:
        keys = [field.key for field in profile_fields_of(viewer=Viewer(channel=channel))]

    assert keys == expected
    assert keys[-1] == "profile.zeta"
    assert keys.index("profile.alpha") < keys.index("profile.zeta")
    assert "profile.theirs" not in keys
    assert len(queries) == 1


@pytest.mark.django_db
def test_one_field_by_its_full_key_and_404_for_another_channels(
    channel: Channel, other_channel: Channel
) -> None:
    ours = field_in(channel, "grade")
    field_in(other_channel, "secret")
    viewer = Viewer(channel=channel)

    assert profile_field_of(viewer=viewer, key="profile.grade") == ours
    assert profile_field_of(viewer=viewer, key="lastSeenAt").built_in
    for key in ("profile.secret", "grade", "profile.nothing"):
        with pytest.raises(Http404, match=f"No field {key} in this channel."):
            profile_field_of(viewer=viewer, key=key)


@pytest.mark.django_db
def test_the_admin_reads_the_fields_of_the_channels_it_names(
    channel: Channel, other_channel: Channel
) -> None:
    field_in(channel, "grade")
    field_in(other_channel, "secret")

    mine = set(profile_fields_in(channel_ids=[channel.pk]).values_list("channel_id", flat=True))
    every = set(profile_fields_in(channel_ids=None).values_list("channel_id", flat=True))
    none = profile_fields_in(channel_ids=[])

    assert mine == {channel.pk}
    assert every >= {channel.pk, other_channel.pk}
    assert list(none) == []
