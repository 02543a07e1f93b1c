"""Segments: saved filters per channel, usable wherever a filter is (key `segment`)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from contacts.filtering import filter_parse
from contacts.listing import fields_by_key
from contacts.models import Segment
from contacts.selectors.segments import segment_filter_of
from crm.errors import Conflict, InvalidInput, Problem
from crm.permissions import Viewer

NAME_MAX = 100


class SegmentConflict(Conflict):
    """A segment of that name already exists in the channel."""


def _name_clean(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        raise InvalidInput(
            [
                Problem(
                    "name",
                    "invalid_name",
                    f"name is a non-empty string of at most {NAME_MAX} characters.",
                )
            ]
        )
    return name.strip()


def segment_filter_check(*, viewer: Viewer, filter: object, segment_id: int | None = None) -> Any:
    """FILTER (a JSON filter tree) when it is valid in the viewer's channel, {} for none;
    InvalidInput naming each problem. A segment may not include itself (SEGMENT_ID)."""

    def segment_filter(other_id: int) -> Any:
        if segment_id is not None and other_id == segment_id:
            return filter
        return segment_filter_of(viewer=viewer, segment_id=other_id)

    filter_parse(filter, fields=fields_by_key(viewer), viewer=viewer, segment_filter=segment_filter)
    return filter if filter is not None else {}


def segment_create(*, viewer: Viewer, name: str, filter: object) -> Segment:
    """Save FILTER under NAME in the viewer's channel; names are unique per channel."""
    cleaned = _name_clean(name)
    checked = segment_filter_check(viewer=viewer, filter=filter)
    try:
        with transaction.atomic():
            return Segment.objects.create(
                channel=viewer.channel,
                name=cleaned,
                filter=checked,
                created_by_id=viewer.user.pk if viewer.user else None,
            )
    except IntegrityError as error:
        raise SegmentConflict(f"A segment named {cleaned!r} already exists.") from error


def segment_update(
    *, viewer: Viewer, segment: Segment, name: str | None = None, filter: object = None
) -> Segment:
    """Rename a segment or change its filter (None leaves either as it is)."""
    if name is not None:
        segment.name = _name_clean(name)
    if filter is not None:
        segment.filter = segment_filter_check(viewer=viewer, filter=filter, segment_id=segment.pk)
    try:
        with transaction.atomic():
            segment.save(update_fields=["name", "filter", "updated_at"])
    except IntegrityError as error:
        raise SegmentConflict(f"A segment named {segment.name!r} already exists.") from error
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Delete a saved segment (contacts are untouched)."""
    segment.delete()
