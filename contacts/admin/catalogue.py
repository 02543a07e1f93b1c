"""The admin of a channel's tag catalogue and of contacts' events (their properties masked as
free text)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from contacts.models import Event, Tag
from contacts.representation import own_sensitive_values
from contacts.services.tags import tag_create, tag_delete_start
from crm.admin_scoping import ChannelListFilter
from crm.jobs.admin import DeletedByJobs
from crm.jobs.models import Job
from crm.permissions import Permission, Viewer
from masking.admin_policy import MaskedAdmin


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
class EventAdmin(MaskedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.GENERAL_SETTINGS
    list_display = ["name", "contact", "created_at", "channel"]
    list_filter = [ChannelListFilter]
    list_select_related = ["contact", "channel"]
    search_fields = ["=name"]
    raw_id_fields = ["contact"]
    fields = ("channel", "contact", "name", "properties_shown", "created_at")
    readonly_fields = fields

    @admin.display(description="properties")
    def properties_shown(self, obj: Event) -> str:
        """The properties as free text: phone numbers, emails and the contact's own sensitive
        values masked, for every manager."""
        policy = self.policy_of(obj)
        own = own_sensitive_values(obj.contact, policy)
        shown = policy.free_value(obj.properties, own_values=own)
        return format_html("<pre>{}</pre>", json.dumps(shown, ensure_ascii=False, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
