"""Segments: saved filters per channel, usable wherever a filter is."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from contacts.filtering import filter_parse
from contacts.listing import fields_by_key
from contacts.models import Segment
from crm.errors import Conflict, InvalidInput, Problem
from crm.permissions import Viewer

NAME_MAX = 100


class SegmentConflict(Conflict):
    """A segment of that name already exists in the channel."""


def _name_clean(name: Any) -> str:
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


def segment_filter_check(viewer: Viewer, data: Any, segment_id: int | None = None) -> Any:
    """Validate DATA as a filter of the viewer's channel (a segment may not include itself)."""

    def segment_filter(other_id: int) -> Any:
        if segment_id is not None and other_id == segment_id:
            return data
        return (
            Segment.objects.filter(channel=viewer.channel, pk=other_id)
            .values_list("filter", flat=True)
            .first()
        )

    filter_parse(data, fields=fields_by_key(viewer), viewer=viewer, segment_filter=segment_filter)
    return data if data is not None else {}


def segment_create(*, viewer: Viewer, name: Any, filter: Any) -> Segment:
    """Save FILTER under NAME in the viewer's channel; names are unique per channel."""
    cleaned = _name_clean(name)
    checked = segment_filter_check(viewer, filter)
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
    *, viewer: Viewer, segment: Segment, name: Any = None, filter: Any = None
) -> Segment:
    """Rename a segment or change its filter."""
    if name is not None:
        segment.name = _name_clean(name)
    if filter is not None:
        segment.filter = segment_filter_check(viewer, filter, segment_id=segment.pk)
    try:
        with transaction.atomic():
            segment.save(update_fields=["name", "filter", "updated_at"])
    except IntegrityError as error:
        raise SegmentConflict(f"A segment named {segment.name!r} already exists.") from error
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Delete a saved segment (contacts are untouched)."""
    segment.delete()


def segment_object(segment: Segment) -> dict[str, Any]:
    """A segment as API.md shows it."""
    return {
        "id": str(segment.pk),
        "name": segment.name,
        "filter": segment.filter,
        "createdAt": int(segment.created_at.timestamp() * 1000),
        "updatedAt": int(segment.updated_at.timestamp() * 1000),
    }
