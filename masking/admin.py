"""The audit log in the admin: read by owners (a manager whose role holds every permission in
the channel), filtered by action, actor and date, downloadable as CSV; never written here,
not even by a superuser (the table itself refuses UPDATE and DELETE, see crm.audit)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from crm.admin_lookups import DeclaredLookupsOnly
from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.models import ActorType, AuditEvent
from crm.permissions import MANAGE_ACCESS
from masking.audit_csv import audit_csv_lines
from masking.selectors import audit_actor_choices, audit_actor_q, audit_events_newest_first

FIELDS = (
    "created_at",
    "action",
    "actor_type",
    "actor_id",
    "actor_name",
    "target_user_id",
    "keys",
    "detail",
    "address",
    "user_agent",
    "channel_id",
)


class ActorListFilter(admin.SimpleListFilter):
    """The records of one manager, API credential, or the system. The choices are the current
    managers and credentials; a deleted one stays reachable from its records' actor links."""

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return audit_actor_choices(channel_ids=model_admin.channel_ids(request, MANAGE_ACCESS))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        found = audit_actor_q(value)
        return queryset.none() if found is None else queryset.filter(found)


DETAIL_SHOWN = 160


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


@admin.register(AuditEvent)
class AuditEventAdmin(DeclaredLookupsOnly, ChannelScopedAdmin):
    channel_path = "channel_id"  # a plain id: a deleted channel's records stay until purged
    view_permission = MANAGE_ACCESS
    list_display = [
        "created_at",
        "action",
        "actor",
        "target_user_id",
        "key_list",
        "detail_summary",
        "address",
        "channel_id",
    ]
    list_filter = [
        "action",
        ActorListFilter,
        ("created_at", admin.DateFieldListFilter),
        ChannelListFilter,
    ]
    sortable_by = ()  # newest first, as the index reads
    fields = FIELDS
    readonly_fields = FIELDS
    actions = None

    @admin.display(description="actor")
    def actor(self, obj: AuditEvent) -> str:
        if obj.actor_type == ActorType.SYSTEM:
            return "System"
        who = f"{obj.get_actor_type_display()} #{obj.actor_id}" if obj.actor_id else ""
        return f"{obj.actor_name} ({who})" if obj.actor_name and who else obj.actor_name or who

    @admin.display(description="keys")
    def key_list(self, obj: AuditEvent) -> str:
        return ", ".join(obj.keys)

    @admin.display(description="detail")
    def detail_summary(self, obj: AuditEvent) -> str:
        """What the record says beyond its keys (names, counts, flags; never a value)."""
        shown = "; ".join(f"{name}: {_plain(value)}" for name, value in obj.detail.items())
        return shown if len(shown) <= DETAIL_SHOWN else shown[: DETAIL_SHOWN - 1] + "…"

    # Owners read; nobody writes --------------------------------------------------------------

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        ids = self.channel_ids(request, MANAGE_ACCESS)
        if ids is None:
            return True
        return obj.channel_id in ids if obj is not None else bool(ids)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # The download ----------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "download/",
            self.admin_site.admin_view(self.download_view),
            name="crm_auditevent_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request: HttpRequest) -> HttpResponseBase:
        """The records the changelist shows with the same filters, all of them, as CSV,
        streamed while they are read."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:  # as the changelist answers them
            return HttpResponseRedirect(f"{reverse('admin:crm_auditevent_changelist')}?e=1")
        events = audit_events_newest_first(changelist.get_queryset(request))
        response = StreamingHttpResponse(
            audit_csv_lines(events), content_type="text/csv; charset=utf-8"
        )
        name = f"audit-log-{timezone.localdate().isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
