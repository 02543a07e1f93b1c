"""Admin for profile field definitions: anyone with `contacts_view` sees them; writes need
`general_settings` and go through profile_schema.services (add, change, type change, delete)."""

from __future__ import annotations

from copy import copy
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.permissions import Permission
from profile_schema import services
from profile_schema.forms import (
    FieldTypeChangeForm,
    ProfileFieldAddForm,
    ProfileFieldChangeForm,
    ServiceModelForm,
    service_errors_show,
)
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


class FormRefused(Exception):
    """A service refused what a valid admin form asked; its reasons are on the form."""

    def __init__(self, form: ServiceModelForm) -> None:
        super().__init__("refused by the service")
        self.form = form


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

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except FormRefused as refused:  # the transaction is rolled back: show the form again
            return self._form_again(request, refused.form, form_url, extra_context)

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> ProfileField:
        """Write through the service; a refusal goes back to the form with its reasons."""
        field = form.stored  # None on the add page
        try:
            return self._field_create(form) if field is None else self._field_change(form, field)
        except ValidationError as error:
            service_errors_show(form, error)
            raise FormRefused(form) from error

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

    @staticmethod
    def _field_create(form: ProfileFieldAddForm) -> ProfileField:
        data = form.cleaned_data
        return services.profile_field_create(
            channel=data["channel"],
            key=data["key"],
            name=data["name"],
            type=data["type"],
            sensitive=data["sensitive"],
            masking=data["masking"],
            shown_in_profile=data["shown_in_profile"],
        )

    @staticmethod
    def _field_change(form: ProfileFieldChangeForm, field: ProfileField) -> ProfileField:
        data = form.cleaned_data
        changed = services.profile_field_change(
            field=field,
            name=data.get("name"),  # absent for built-in fields: read-only there, like indexed
            order=data["order"],
            sensitive=data["sensitive"],
            masking=data["masking"],
            shown_in_profile=data["shown_in_profile"],
            indexed=data.get("indexed"),
        )
        return changed.field

    def _form_again(
        self,
        request: HttpRequest,
        form: ServiceModelForm,
        form_url: str,
        extra_context: dict[str, Any] | None,
    ) -> HttpResponse:
        """The add or change page with FORM and its errors, as the admin renders a form that
        did not validate."""
        obj = form.stored
        fieldsets: Any = self.get_fieldsets(request, obj)  # the stubs type them apart
        admin_form = helpers.AdminForm(
            form,
            list(fieldsets),
            {},
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        title = "Change %s" if obj else "Add %s"
        context = {
            **self.admin_site.each_context(request),
            "title": title % self.opts.verbose_name,
            "subtitle": str(obj) if obj else None,
            "adminform": admin_form,
            "object_id": obj.pk if obj else None,
            "original": obj,
            "is_popup": IS_POPUP_VAR in request.POST or IS_POPUP_VAR in request.GET,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        add, change = obj is None, obj is not None
        return self.render_change_form(request, context, add, change, form_url, obj)

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
