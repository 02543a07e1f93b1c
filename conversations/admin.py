"""Admin for conversations: read-only, scoped to the channels where the viewer sees contacts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from conversations.models import Conversation
from conversations.selectors import first_messages
from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.permissions import Permission

FIELDS = (
    "channel",
    "contact",
    "medium",
    "state",
    "started_by_type",
    "started_by",
    "started_by_credential",
    "kakao_template",
    "kakao_variables",
    "first_message",
    "created_at",
    "updated_at",
    "closed_at",
)


@admin.register(Conversation)
class ConversationAdmin(ChannelScopedAdmin):
    # Conversations are started through the service (plan, medium and reachability rules),
    # never added, changed or deleted here.
    view_permission = Permission.CONTACTS_VIEW
    list_display = ["__str__", "medium", "state", "started_by_type", "created_at", "channel"]
    list_filter = ["medium", "state", ChannelListFilter]
    list_select_related = ["channel"]
    fields = FIELDS
    readonly_fields = FIELDS

    @admin.display(description="first message")
    def first_message(self, obj: Conversation) -> str:
        message = first_messages(channel=obj.channel, conversation_ids=[obj.pk]).get(obj.pk)
        return "" if message is None else message.plain_text

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
