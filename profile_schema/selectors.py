"""Reads of profile field definitions for a viewer: the one place they are scoped to a channel
(the API, the admin and the desk call these)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from crm.permissions import Viewer
from profile_schema.models import ProfileField


def profile_fields_of(*, viewer: Viewer) -> QuerySet[ProfileField]:
    """The viewer's channel's fields, built-in ones included, by order then key."""
    return ProfileField.objects.filter(channel=viewer.channel).order_by("order", "key")


def profile_field_of(*, viewer: Viewer, key: str) -> ProfileField:
    """The viewer's channel's field with the full KEY; 404 when there is none."""
    field = profile_fields_of(viewer=viewer).filter(key=key).first()
    if field is None:
        raise Http404(f"No field {key} in this channel.")
    return field


def profile_fields_in(*, channel_ids: list[int] | None) -> QuerySet[ProfileField]:
    """The fields of the channels CHANNEL_IDS (None: every channel, for a superuser), by
    channel, order and key: what a manager sees in the admin."""
    fields = ProfileField.objects.all()
    return fields if channel_ids is None else fields.filter(channel_id__in=channel_ids)
