"""The filters of the contacts changelist: type from its fixed choices, a saved segment
compiled by the one filter language."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from contacts.listing import ListTooSlow, contact_filtered, fields_by_key, unindexed_keys
from contacts.models import ContactType
from contacts.selectors.segments import segment_choices, segment_for_manager
from crm.errors import InvalidInput


class ContactTypeListFilter(admin.SimpleListFilter):
    """Member / lead / anonymous from the fixed choices (never a DISTINCT over all contacts)."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in ContactType.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(type=value) if value in ContactType.values else queryset


class SegmentListFilter(admin.SimpleListFilter):
    """Contacts of a saved segment, compiled by the one filter language."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ids = model_admin.channel_ids(request, model_admin.view_permission)
        found = segment_choices(channel_ids=ids)
        return [(str(s.pk), f"{s.name} ({s.channel.name})") for s in found]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        found = segment_for_manager(user=request.user, segment_id=value)
        if found is None:
            return queryset.none()
        segment, viewer = found
        try:
            matching = contact_filtered(
                viewer=viewer, filter={"key": "segment", "operator": "eq", "values": [segment.pk]}
            )
        except InvalidInput:
            return queryset.none()
        return queryset.filter(pk__in=matching.values("pk"))


def segment_too_slow(request: HttpRequest, timeout_ms: int) -> str:
    """What the admin says of a segment whose list passed the timeout: the API's refusal."""
    found = segment_for_manager(user=request.user, segment_id=request.GET.get("segment", ""))
    keys: list[str] = []
    if found is not None:
        segment, viewer = found
        keys = unindexed_keys(viewer=viewer, filter=segment.filter, fields=fields_by_key(viewer))
    return ListTooSlow(timeout_ms).problem(keys).message
