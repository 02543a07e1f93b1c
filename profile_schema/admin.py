"""Admin for profile field definitions: anyone with `contacts_view` sees them; writes need
`general_settings` and go through profile_schema.services (add, change, type change, delete)."""

from __future__ import annotations

from copy import copy
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.permissions import Permission
from profile_schema import services
from profile_schema.forms import FieldTypeChangeForm, ProfileFieldAddForm, ProfileFieldChangeForm
from profile_schema.models import FieldType, ProfileField

ADD_FIELDS = ["channel", "key", "name", "type", "sensitive", "masking", "shown_in_profile"]
CHANGE_FIELDS = [
    "channel",
    "key",
    "type",
    "built_in",
    "name",
    "sensitive",
    "masking",
    "shown_in_profile",
    "order",
    "indexed",
    "index_state",
    "index_name",
    "index_error",
]
INDEX_STATUS_FIELDS = ["index_state", "index_name", "index_error"]


class ProfileFieldIndexedChangeForm(ProfileFieldChangeForm):
    """The change form with the `indexed` flag, written through profile_field_update too."""

    class Meta(ProfileFieldChangeForm.Meta):
        fields = [*ProfileFieldChangeForm.Meta.fields, "indexed"]

    def write(self, data: dict[str, Any]) -> ProfileField:
        field = super().write(data)
        if "indexed" not in data:  # read-only for built-in fields
            return field
        return services.profile_field_update(field=field, indexed=data["indexed"])


@admin.register(ProfileField)
class ProfileFieldAdmin(ChannelScopedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.GENERAL_SETTINGS
    delete_permission = Permission.GENERAL_SETTINGS
    list_display = [
        "key",
        "name",
        "type",
        "built_in",
        "sensitive",
        "masking",
        "shown_in_profile",
        "order",
        "indexed",
        "index_state",
        "channel",
    ]
    list_filter = [ChannelListFilter, "built_in", "type", "sensitive", "indexed"]
    search_fields = ["key", "name"]
    list_select_related = ["channel"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = ProfileFieldIndexedChangeForm if obj else ProfileFieldAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return CHANGE_FIELDS if obj else ADD_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # The key is immutable; the type changes on its own page; built-ins keep their name.
        fixed = ["channel", "key", "type", "built_in", *INDEX_STATUS_FIELDS]
        return [*fixed, "name", "indexed"] if obj.built_in else fixed

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The form has written through the service already (profile_schema.forms).
        obj.pk = form.saved.pk
        obj.refresh_from_db()

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting needs a confirmed count per field
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.built_in:
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self) -> list[URLPattern]:
        change_type = path(
            "<path:object_id>/change-type/",
            self.admin_site.admin_view(self.type_change_view),
            name="profile_schema_profilefield_change_type",
        )
        return [change_type, *super().get_urls()]

    def type_change_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Change a field's type through the service; a refusal shows the blocking count."""
        field = self._writable_object(request, object_id, self.has_change_permission)
        if field.built_in:
            raise PermissionDenied
        form = FieldTypeChangeForm(request.POST or None, field=field)
        if request.method == "POST" and form.is_valid():
            try:
                changed = services.profile_field_type_change(
                    field=field, type=form.cleaned_data["type"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return self._type_changed(request, changed)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change the type of {field.key}",
            "opts": self.opts,
            "original": field,
            "form": form,
            "holder_count": services.profile_field_delete_preview(field=field),
        }
        return TemplateResponse(
            request, "admin/profile_schema/profilefield/change_type.html", context
        )

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Confirm with the number of contacts holding a value, then delete in batches."""
        field = self.get_object(request, unquote(object_id))
        if field is None:
            return super().delete_view(request, object_id, extra_context)
        if not self.has_delete_permission(request, field):
            raise PermissionDenied
        if request.method == "POST":
            return self._delete_confirmed(request, field)
        count = services.profile_field_delete_preview(field=field)
        return super().delete_view(
            request, object_id, {**(extra_context or {}), "holder_count": count}
        )

    def _writable_object(self, request: HttpRequest, object_id: str, allowed: Any) -> Any:
        field = self.get_object(request, unquote(object_id))
        if field is None or not allowed(request, field):
            raise PermissionDenied
        return field

    def _type_changed(self, request: HttpRequest, changed: services.FieldTypeChanged) -> Any:
        field = changed.field
        label = FieldType(field.type).label
        message = f"{field.key} is now {label}; {changed.converted} stored values were converted."
        self.log_change(request, field, message)
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:profile_schema_profilefield_change", args=[field.pk])
        )

    def _delete_confirmed(self, request: HttpRequest, field: ProfileField) -> HttpResponse:
        confirmed = request.POST.get("confirm_count", "")
        if not (confirmed.isascii() and confirmed.isdigit() and len(confirmed) < 19):
            self.message_user(request, "Confirm the deletion on this page.", messages.ERROR)
            return HttpResponseRedirect(request.path)
        deleted = copy(field)
        try:
            removed = services.profile_field_delete(field=field, confirm_count=int(confirmed))
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(request.path)
        # The row is gone: Django's logger only iterates, so the copy taken before stands in.
        self.log_deletions(request, [deleted])  # type: ignore[arg-type]
        message = f"Deleted {deleted.key}; its value was removed from {removed} contacts."
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:profile_schema_profilefield_changelist"))
