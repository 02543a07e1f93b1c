"""Admin for contacts, tags and events, scoped to the viewer's channels."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from contacts.filtering import quick_search_q
from contacts.listing import ListTooSlow, contact_filtered, fields_by_key, unindexed_keys
from contacts.models import Contact, ContactType, Event, Segment, Tag
from contacts.selectors.segments import segment_choices, segment_for_manager
from contacts.services import segments
from contacts.services.profile import contact_consent_set
from contacts.services.tags import contact_tags_set, tag_create, tag_delete_start
from contacts.services.values import tags_clean
from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.errors import InvalidInput
from crm.jobs.admin import DeletedByJobs
from crm.jobs.models import Job
from crm.json_input import JSONInputFormField
from crm.permissions import Permission, Viewer
from crm.selectors import viewer_for_user
from crm.session_settings import settings_for_block, statement_timed_out

BUILT_IN_READ_ONLY = [
    "channel",
    "type",
    "member_id",
    "veil_id",
    "name",
    "profile_display",
    "city",
    "country",
    "language",
    "sessions_count",
    "last_seen_at",
    "web_browser",
    "web_browser_name",
    "web_os",
    "web_os_name",
    "web_device",
    "web_last_seen_at",
    "web_sessions_count",
    "mobile_app_name",
    "mobile_app_version",
    "mobile_os",
    "mobile_os_name",
    "mobile_device",
    "mobile_last_seen_at",
    "mobile_sessions_count",
    "has_push_token",
    "has_chat",
    "blocked",
    "blocked_at",
    "blocked_by",
    "blocked_reason",
    "created_at",
    "updated_at",
]


class ContactForm(forms.ModelForm):
    """Managers edit tags and marketing consent here; built-in fields are read-only."""

    tags = forms.CharField(
        required=False,
        help_text="Comma-separated; at most 20, lowercase, no '.', '$', '/', '\\' or spaces.",
    )

    class Meta:
        model = Contact
        fields = ["tags", "unsubscribe_email", "unsubscribe_texting"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        try:
            return tags_clean(part for part in raw.split(",") if part.strip())
        except ValidationError as error:
            raise ValidationError(error.message_dict["tags"]) from error


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


def _segment_too_slow(request: HttpRequest, timeout_ms: int) -> str:
    """What the admin says of a segment whose list passed the timeout: the API's refusal."""
    found = segment_for_manager(user=request.user, segment_id=request.GET.get("segment", ""))
    keys: list[str] = []
    if found is not None:
        segment, viewer = found
        keys = unindexed_keys(viewer=viewer, filter=segment.filter, fields=fields_by_key(viewer))
    return ListTooSlow(timeout_ms).problem(keys).message


class ContactChangeList(ChangeList):
    """The contacts changelist sorts only the ways an index reads a channel's contacts.

    A sort by a column without an index (type, blocked) sorted a whole tenant on every page:
    some 370 ms at 600,000 contacts. `last_seen_at` is sorted as `contact_last_seen_idx` reads,
    forwards (newest first, never-seen last) or backwards; any other order asked in the URL
    falls back to the default, newest contact first (`contact_channel_id_idx`)."""

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Contact]) -> list[Any]:
        ordering = super().get_ordering(request, queryset)
        first = str(ordering[0]) if ordering else ""
        if first == "-last_seen_at":
            return [F("last_seen_at").desc(nulls_last=True), F("id").desc()]
        if first == "last_seen_at":
            return [F("last_seen_at").asc(nulls_first=True), F("id").asc()]
        return ["-id"]


@admin.register(Contact)
class ContactAdmin(ChannelScopedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.CONTACTS_EDIT
    delete_permission = Permission.CONTACTS_DELETE
    form = ContactForm
    list_display = [
        "__str__",
        "member_id",
        "type",
        "tag_list",
        "last_seen_at",
        "blocked",
        "channel",
    ]
    list_filter = [ContactTypeListFilter, "blocked", ChannelListFilter, SegmentListFilter]
    sortable_by = ["last_seen_at"]
    list_select_related = ["channel"]
    search_fields = ["member_id"]  # the search box runs the product's quick search instead

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ContactChangeList

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The list, run under the list's statement timeout as the API's is: a segment that
        takes longer is a message naming the fields to mark indexed, over the list without it."""
        if request.method != "GET":  # actions on selected contacts keep the usual bounds
            return super().changelist_view(request, extra_context)
        timeout = int(settings.LIST_STATEMENT_TIMEOUT_MS)
        try:
            with settings_for_block({"statement_timeout": str(timeout)}):
                response = super().changelist_view(request, extra_context)
                if isinstance(response, TemplateResponse):
                    response.render()  # the rows are read while the page renders
                return response
        except OperationalError as error:
            if not statement_timed_out(error) or "segment" not in request.GET:
                raise
            self.message_user(request, _segment_too_slow(request, timeout), messages.ERROR)
            rest = request.GET.copy()
            del rest["segment"]
            return HttpResponseRedirect(f"{request.path}?{rest.urlencode()}")

    readonly_fields = BUILT_IN_READ_ONLY
    fieldsets = [
        (None, {"fields": ["channel", "type", "member_id", "veil_id", "name", "tags"]}),
        ("Profile", {"fields": ["profile_display"]}),
        ("Marketing consent", {"fields": ["unsubscribe_email", "unsubscribe_texting"]}),
        (
            "Visits",
            {
                "fields": [
                    "city",
                    "country",
                    "language",
                    "sessions_count",
                    "last_seen_at",
                    "has_push_token",
                    "has_chat",
                ]
            },
        ),
        (
            "Web",
            {
                "classes": ["collapse"],
                "fields": [
                    "web_browser",
                    "web_browser_name",
                    "web_os",
                    "web_os_name",
                    "web_device",
                    "web_last_seen_at",
                    "web_sessions_count",
                ],
            },
        ),
        (
            "App",
            {
                "classes": ["collapse"],
                "fields": [
                    "mobile_app_name",
                    "mobile_app_version",
                    "mobile_os",
                    "mobile_os_name",
                    "mobile_device",
                    "mobile_last_seen_at",
                    "mobile_sessions_count",
                ],
            },
        ),
        ("Blocked", {"fields": ["blocked", "blocked_at", "blocked_by", "blocked_reason"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="tags")
    def tag_list(self, obj: Contact) -> str:
        return ", ".join(obj.tags)

    @admin.display(description="profile")
    def profile_display(self, obj: Contact) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.profile, ensure_ascii=False, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Contacts come from the SDK, the API and imports, which apply the profile rules.
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """The quick search of the desk and the API: name, mobile number, email, member id.

        Keys masked for the manager in every channel they see are not searched."""
        term = search_term.strip()
        if not term:
            return queryset, False
        ids = self.channel_ids(request, Permission.SENSITIVE_VIEW)
        may_see = ids is None or set(ids) >= set(
            self.channel_ids(request, self.view_permission) or []
        )
        searchable = frozenset(
            ["name", *(["profile.email", "profile.mobileNumber"] if may_see else [])]
        )
        try:
            found = quick_search_q(term, searchable=searchable) | Q(member_id=term)
        except InvalidInput:
            return queryset.none(), False
        return queryset.filter(found), False

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        data = form.cleaned_data
        contact_tags_set(contact=obj, tags=data["tags"])
        contact_consent_set(
            contact=obj,
            unsubscribe_email=data["unsubscribe_email"],
            unsubscribe_texting=data["unsubscribe_texting"],
        )


@admin.register(Tag)
class TagAdmin(DeletedByJobs):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.CONTACTS_EDIT
    # A delete takes the tag off every contact, as DELETE /open/v5/user-tags/{name} does: a job.
    delete_permission = Permission.GENERAL_SETTINGS
    list_display = ["name", "channel", "created_at"]
    list_filter = [ChannelListFilter]
    search_fields = ["^name"]
    fields = ["channel", "name"]
    deleting = "Deleting {names} from every contact"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["channel", "name"] if obj else []

    def delete_job_start(self, obj: Tag, viewer: Viewer) -> Job:
        return tag_delete_start(tag=obj, requested_by=viewer)

    def save_model(self, request: HttpRequest, obj: Tag, form: Any, change: bool) -> None:
        saved, _ = tag_create(channel=obj.channel, name=obj.name)
        obj.pk, obj.name = saved.pk, saved.name


@admin.register(Event)
class EventAdmin(ChannelScopedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.GENERAL_SETTINGS
    list_display = ["name", "contact", "created_at", "channel"]
    list_filter = [ChannelListFilter]
    list_select_related = ["contact", "channel"]
    search_fields = ["=name"]
    raw_id_fields = ["contact"]
    readonly_fields = ["channel", "contact", "name", "properties", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["channel", "name", "filter"]
        field_classes = {"filter": JSONInputFormField}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        channel = data.get("channel") or getattr(self.instance, "channel", None)
        if channel is None or "filter" not in data:
            return data
        viewer = viewer_for_user(user=self.request_user, channel=channel)  # type: ignore[attr-defined]
        if viewer is None:
            raise ValidationError({"channel": "Choose a channel you belong to."})
        try:
            segments.segment_filter_check(
                viewer=viewer, filter=data["filter"], segment_id=self.instance.pk
            )
        except InvalidInput as error:
            raise ValidationError({"filter": [p.message for p in error.problems]}) from error
        return data


@admin.register(Segment)
class SegmentAdmin(ChannelScopedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.CONTACTS_EDIT
    delete_permission = Permission.CONTACTS_EDIT
    form = SegmentForm
    list_display = ["name", "channel", "created_by", "updated_at"]
    list_filter = [ChannelListFilter]
    list_select_related = ["channel", "created_by"]
    search_fields = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["channel"] if obj else []

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.request_user = request.user  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        # The filter is checked against the channel's fields like every other filter.
        viewer = viewer_for_user(user=request.user, channel=obj.channel)
        if viewer is None:  # the form refuses a channel the manager is not in; this never runs
            raise PermissionDenied("You do not belong to this segment's channel.")
        data = form.cleaned_data
        if change:
            segments.segment_update(
                viewer=viewer, segment=obj, name=data["name"], filter=data["filter"]
            )
        else:
            obj.pk = segments.segment_create(
                viewer=viewer, name=data["name"], filter=data["filter"]
            ).pk
