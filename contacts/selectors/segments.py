"""Reads of saved segments: the only place a Segment query is scoped to channels."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from contacts.models import Segment
from crm.ids import id_parse
from crm.permissions import Viewer
from crm.selectors import viewer_for_user

ADMIN_CHOICES_MAX = 200


def segments_of(*, viewer: Viewer) -> QuerySet[Segment]:
    """The segments of the viewer's channel: the root of every segment read for a viewer."""
    return Segment.objects.filter(channel=viewer.channel)


def segment_list(*, viewer: Viewer) -> QuerySet[Segment]:
    """The viewer's channel's segments by name."""
    return segments_of(viewer=viewer).order_by("name", "id")


def segment_get(*, viewer: Viewer, segment_id: str) -> Segment:
    """The viewer's channel's segment SEGMENT_ID (as a path writes it); Http404 otherwise."""
    pk = id_parse(segment_id)
    found = segments_of(viewer=viewer).filter(pk=pk).first() if pk else None
    if found is None:
        raise Http404("No such segment.")
    return found


def segment_filter_of(*, viewer: Viewer, segment_id: int) -> Any:
    """The filter tree of the viewer's channel's segment SEGMENT_ID; None when there is none."""
    return segments_of(viewer=viewer).filter(pk=segment_id).values_list("filter", flat=True).first()


def segment_choices(*, channel_ids: list[int] | None) -> list[Segment]:
    """The segments of CHANNEL_IDS (None: every channel) by channel and name, the first 200:
    what the admin offers a manager to filter contacts by."""
    found = Segment.objects.select_related("channel").order_by("channel__name", "name")
    if channel_ids is not None:
        found = found.filter(channel_id__in=channel_ids)
    return list(found[:ADMIN_CHOICES_MAX])


def segment_for_manager(
    *, user: AbstractBaseUser | AnonymousUser, segment_id: str
) -> tuple[Segment, Viewer] | None:
    """Segment SEGMENT_ID and the viewer USER is in its channel; None when there is no such
    segment or USER does not belong to its channel."""
    pk = id_parse(segment_id)
    segment = Segment.objects.select_related("channel").filter(pk=pk).first() if pk else None
    viewer = segment and viewer_for_user(user=user, channel=segment.channel)
    if segment is None or not viewer:
        return None
    return segment, viewer
