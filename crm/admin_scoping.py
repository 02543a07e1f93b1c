"""Django admin base classes: every changelist scoped to the viewer's channels, counts bounded."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import models
from django.http import HttpRequest

from crm.admin_refusals import RefusalsOnTheForm
from crm.counting import BoundedCount, count_bounded
from crm.ids import id_parse
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, MANAGE_ACCESS, Permission
from crm.selectors import channels_among, permissions_by_channel


class BoundedCountPaginator(Paginator):
    """A paginator whose count is exact only when it is fast (crm.counting: never unbounded).

    When the count is the planner's estimate it may be too low, so a page past it is still
    served (empty when nothing is there) rather than refused: every row stays reachable."""

    @cached_property
    def bounded(self) -> BoundedCount:
        queryset = self.object_list
        assert isinstance(queryset, models.QuerySet)
        return count_bounded(queryset)

    @cached_property
    def count(self) -> int:
        return self.bounded.value

    def validate_number(self, number: Any) -> int:
        if self.bounded.exact:
            return super().validate_number(number)
        try:
            page = int(number)
        except (TypeError, ValueError) as error:
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from error
        if page < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return page

    def page(self, number: Any) -> Page:
        if self.bounded.exact:
            return super().page(number)
        page = self.validate_number(number)
        bottom = (page - 1) * self.per_page
        return Page(self.object_list[bottom : bottom + self.per_page], page, self)


class ChannelScopedAdmin(RefusalsOnTheForm):
    """Rows of the channels where the user holds the permission; roles decide every action; a
    service's refusal shows on the form."""

    channel_path = "channel"
    view_permission: str = Permission.CONTACTS_VIEW
    edit_permission: str = Permission.GENERAL_SETTINGS
    delete_permission: str | None = None
    paginator = BoundedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def channel_ids(self, request: HttpRequest, permission: str) -> list[int] | None:
        """Channels where the user holds PERMISSION (None: all); one query per request."""
        if not hasattr(request, "_crm_permissions"):
            request._crm_permissions = permissions_by_channel(user=request.user)  # type: ignore[attr-defined]
        held: dict[int, frozenset[str]] | None = request._crm_permissions  # type: ignore[attr-defined]
        if held is None:
            return None
        if permission == MANAGE_ACCESS:
            return sorted(
                channel_id for channel_id, perms in held.items() if perms >= ALL_PERMISSIONS
            )
        return sorted(channel_id for channel_id, perms in held.items() if permission in perms)

    def scope(
        self, request: HttpRequest, queryset: models.QuerySet[Any], permission: str
    ) -> models.QuerySet[Any]:
        ids = self.channel_ids(request, permission)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.channel_path}__in": ids})

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return self.scope(request, super().get_queryset(request), self.view_permission)

    def object_channel(self, obj: Any) -> Channel:
        target = obj
        for part in self.channel_path.split("__"):
            target = getattr(target, part)
        assert isinstance(target, Channel)
        return target

    def _allowed(self, request: HttpRequest, permission: str | None, obj: Any) -> bool:
        if permission is None or not (request.user.is_active and request.user.is_staff):
            return False
        ids = self.channel_ids(request, permission)
        if obj is not None:
            return ids is None or self.object_channel(obj).pk in ids
        return ids is None or bool(ids)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.view_permission, None)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.view_permission, obj) or self.has_change_permission(
            request, obj
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.edit_permission, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.edit_permission, None)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.delete_permission, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        ids = self.channel_ids(request, self.edit_permission)
        if ids is not None:
            if related is Channel:
                kwargs["queryset"] = channels_among(ids=ids)
            elif any(f.name == "channel" for f in related._meta.get_fields()):
                kwargs["queryset"] = related._default_manager.filter(channel_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ChannelListFilter(admin.SimpleListFilter):
    """Filter by channel, offering only the channels the viewer may see (never all of them)."""

    title = "channel"
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ids = model_admin.channel_ids(request, model_admin.view_permission)
        return [(str(c.pk), c.name) for c in channels_among(ids=ids).only("pk", "name")]

    def queryset(
        self, request: HttpRequest, queryset: models.QuerySet[Any]
    ) -> models.QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        channel_id = id_parse(value)
        if channel_id is None:
            return queryset.none()
        # get_queryset has already scoped the rows, so a foreign channel id matches nothing.
        return queryset.filter(**{self.parameter_name_path(queryset): channel_id})

    def parameter_name_path(self, queryset: models.QuerySet[Any]) -> str:
        return "pk" if queryset.model is Channel else "channel_id"
