"""Admin for profile field definitions: anyone with `contacts_view` sees them; writes need
`general_settings` and go through profile_schema.services (add, change, type change, delete)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.errors import Conflict
from crm.jobs.admin import job_started_redirect
from crm.models import Channel
from crm.permissions import Permission, Viewer
from crm.selectors import viewer_for_user
from profile_schema import services
from profile_schema.forms import FieldTypeChangeForm, ProfileFieldAddForm, ProfileFieldChangeForm
from profile_schema.models import FieldType, ProfileField
from profile_schema.selectors import profile_fields_in

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
        form = ProfileFieldChangeForm if obj else ProfileFieldAddForm
        fields = kwargs.pop("fields", None) or flatten_fieldsets(self.get_fieldsets(request, obj))
        # A field the form declares (the add form's key and masking) is its own, outside the
        # model fields: the model neither fills nor validates it; the service does.
        own = [name for name in fields if name not in form.declared_fields]
        return super().get_form(request, obj, change, form=form, fields=own, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProfileField]:
        return profile_fields_in(channel_ids=self.channel_ids(request, self.view_permission))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return CHANGE_FIELDS if obj else ADD_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # The key is immutable; the type changes on its own page; built-ins keep their name.
        fixed = ["channel", "key", "type", "built_in", *INDEX_STATUS_FIELDS]
        return [*fixed, "name", "indexed"] if obj.built_in else fixed

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> ProfileField:
        """Write through the service; a refusal (ValidationError) goes back to the form with its
        reasons, as crm.admin_refusals shows every service's refusal."""
        field = form.stored  # None on the add page
        if field is None:
            return self._field_create(request, form)
        return self._field_change(request, form, field)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        pass  # save_form has written through the service

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # a field has no relations edited here

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
        """Change a field's type through the service, then show the job converting the values;
        a refusal shows the blocking count, or the job in the way."""
        field = self._writable_object(request, object_id, self.has_change_permission)
        if field.built_in:
            raise PermissionDenied
        form = FieldTypeChangeForm(request.POST or None, field=field)
        if request.method == "POST" and form.is_valid():
            try:
                return self._type_change(request, field, form.cleaned_data["type"])
            except ValidationError as refusal:
                form.add_error(None, refusal)  # the blocking count shows at the type
            except Conflict as busy:
                form.add_error(None, busy.message)
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
        """Confirm with the number of contacts holding a value, then start the delete job."""
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

    def _field_create(self, request: HttpRequest, form: ProfileFieldAddForm) -> ProfileField:
        data = form.cleaned_data
        return services.profile_field_create(
            viewer=self._viewer_in(request, data["channel"]),
            channel=data["channel"],
            key=data["key"],
            name=data["name"],
            type=data["type"],
            sensitive=data["sensitive"],
            masking=data["masking"],
            shown_in_profile=data["shown_in_profile"],
        )

    def _field_change(
        self, request: HttpRequest, form: ProfileFieldChangeForm, field: ProfileField
    ) -> ProfileField:
        data = form.cleaned_data
        services.profile_field_change_start(
            field=field,
            requested_by=self._viewer(request, field),
            name=data.get("name"),  # absent for built-in fields: read-only there, like indexed
            order=data["order"],
            sensitive=data["sensitive"],
            masking=data["masking"],
            shown_in_profile=data["shown_in_profile"],
            indexed=data.get("indexed"),
        )
        return field

    def _writable_object(self, request: HttpRequest, object_id: str, allowed: Any) -> Any:
        field = self.get_object(request, unquote(object_id))
        if field is None or not allowed(request, field):
            raise PermissionDenied
        return field

    @classmethod
    def _viewer(cls, request: HttpRequest, field: ProfileField) -> Viewer:
        return cls._viewer_in(request, field.channel)

    @staticmethod
    def _viewer_in(request: HttpRequest, channel: Channel) -> Viewer:
        viewer = viewer_for_user(user=request.user, channel=channel)
        if viewer is None:  # the admin's scoping lets no such manager this far
            raise PermissionDenied("You do not belong to this field's channel.")
        return viewer

    def _type_change(self, request: HttpRequest, field: ProfileField, type: str) -> HttpResponse:
        source = FieldType(field.type).label
        viewer = self._viewer(request, field)
        job = services.profile_field_change_start(field=field, requested_by=viewer, type=type)
        label = FieldType(field.type).label
        if job is None:  # the form offers the other types only; it changed meanwhile
            self.message_user(request, f"{field.key} is a {label} field already.")
            return HttpResponseRedirect(request.path)
        self.log_change(request, field, f"Type changed from {source} to {label}.")
        return job_started_redirect(
            request, [job], f"{field.key} is now {label}; its values convert"
        )

    def _delete_confirmed(self, request: HttpRequest, field: ProfileField) -> HttpResponse:
        confirmed = request.POST.get("confirm_count", "")
        if not (confirmed.isascii() and confirmed.isdigit() and len(confirmed) < 19):
            self.message_user(request, "Confirm the deletion on this page.", messages.ERROR)
            return HttpResponseRedirect(request.path)
        try:
            job = services.profile_field_delete_start(
                field=field, confirm_count=int(confirmed), requested_by=self._viewer(request, field)
            )
        except (ValidationError, Conflict) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else error.message
            self.message_user(request, text, messages.ERROR)
            return HttpResponseRedirect(request.path)
        # Logged as asked for; Django's logger only iterates, so a list stands in for a queryset.
        self.log_deletions(request, [field])  # type: ignore[arg-type]
        what = f"Deleting {field.key} and its value in {confirmed} contacts"
        return job_started_redirect(request, [job], what)
