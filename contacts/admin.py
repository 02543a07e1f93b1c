"""Admin for contacts, tags and events, scoped to the viewer's channels."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html

from contacts import services
from contacts.models import Contact, Event, Tag
from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.permissions import Permission

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
            return services.tags_clean(part for part in raw.split(",") if part.strip())
        except ValidationError as error:
            raise ValidationError(error.message_dict["tags"]) from error


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
    list_filter = ["type", "blocked", ChannelListFilter]
    list_select_related = ["channel"]
    search_fields = ["=member_id", "=veil_id", "^name"]
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

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        data = form.cleaned_data
        services.contact_tags_set(contact=obj, tags=data["tags"])
        services.contact_consent_set(
            contact=obj,
            unsubscribe_email=data["unsubscribe_email"],
            unsubscribe_texting=data["unsubscribe_texting"],
        )


@admin.register(Tag)
class TagAdmin(ChannelScopedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.CONTACTS_EDIT
    delete_permission = Permission.CONTACTS_EDIT
    list_display = ["name", "channel", "created_at"]
    list_filter = [ChannelListFilter]
    search_fields = ["^name"]
    fields = ["channel", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["channel", "name"] if obj else []

    def save_model(self, request: HttpRequest, obj: Tag, form: Any, change: bool) -> None:
        name = services.tags_clean([obj.name])[0]
        services.tag_catalogue_ensure(channel=obj.channel, tags=[name])
        saved = Tag.objects.get(channel=obj.channel, name=name)
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
