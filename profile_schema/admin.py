"""Admin for profile field definitions (writes need `general_settings`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.permissions import Permission
from profile_schema.models import ProfileField


@admin.register(ProfileField)
class ProfileFieldAdmin(ChannelScopedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.GENERAL_SETTINGS
    list_display = [
        "key",
        "name",
        "type",
        "built_in",
        "sensitive",
        "masking",
        "shown_in_profile",
        "order",
        "channel",
    ]
    list_editable = ["order"]
    list_filter = [ChannelListFilter, "built_in", "type", "sensitive"]
    search_fields = ["key", "name"]
    list_select_related = ["channel"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["built_in"]
        # The key is immutable; a built-in field's type and key are the system's.
        return ["channel", "key", "type", "built_in"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Creating fields (key rules, type registry, values) arrives with the profile-field
        # services; until then the presets are the channel's fields.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
