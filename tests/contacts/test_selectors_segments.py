"""Reads of saved segments: a viewer sees its channel's, a manager those of its channels."""

from __future__ import annotations

import pytest
from django.http import Http404

from contacts.models import Segment
from contacts.selectors.segments import (
    segment_choices,
    segment_filter_of,
    segment_for_manager,
    segment_get,
    segment_list,
)
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from tests.crm.factories import manager_in

pytestmark = pytest.mark.django_db
VIP = {"key": "tags", "operator": "hasAny", "values": ["vip"]}


def viewer_of(channel: Channel) -> Viewer:
    return Viewer(channel=channel, permissions=ALL_PERMISSIONS)


def test_a_viewer_reads_its_channels_segments_only(
    channel: Channel, other_channel: Channel
) -> None:
    vip = Segment.objects.create(channel=channel, name="VIP", filter=VIP)
    all_ = Segment.objects.create(channel=channel, name="All", filter={})
    theirs = Segment.objects.create(channel=other_channel, name="Secret plan", filter=VIP)
    viewer = viewer_of(channel)

    assert list(segment_list(viewer=viewer)) == [all_, vip]
    assert segment_get(viewer=viewer, segment_id=str(vip.pk)) == vip
    assert segment_filter_of(viewer=viewer, segment_id=vip.pk) == VIP
    assert segment_filter_of(viewer=viewer, segment_id=theirs.pk) is None
    for segment_id in (str(theirs.pk), "0", "x", "-1"):
        with pytest.raises(Http404, match="No such segment"):
            segment_get(viewer=viewer, segment_id=segment_id)


def test_a_manager_is_offered_and_reads_the_segments_of_its_channels(
    channel: Channel, other_channel: Channel
) -> None:
    vip = Segment.objects.create(channel=channel, name="VIP", filter=VIP)
    theirs = Segment.objects.create(channel=other_channel, name="Secret plan", filter=VIP)
    user = manager_in(channel, "basic").user

    found = segment_for_manager(user=user, segment_id=str(vip.pk))

    assert segment_choices(channel_ids=[channel.pk]) == [vip]
    assert segment_choices(channel_ids=None) == [vip, theirs]  # a superuser's admin
    assert found is not None
    assert (found[0], found[1].channel, found[1].user) == (vip, channel, user)
    assert segment_for_manager(user=user, segment_id=str(theirs.pk)) is None
    assert segment_for_manager(user=user, segment_id="nope") is None
