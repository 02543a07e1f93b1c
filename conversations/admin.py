"""Admin for conversations and their outbox: read-only, scoped to the channels where the
manager sees contacts; messages, template variables and delivery payloads are free text about
the contact, masked for every manager (phone numbers, emails and the contact's own sensitive
values), as the API shows them."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from contacts.models import Contact
from contacts.representation import own_sensitive_values
from conversations.models import Conversation, OutboxMessage
from conversations.selectors import first_messages
from crm.admin_scoping import ChannelListFilter
from crm.permissions import Permission
from masking.admin_policy import MaskedAdmin
from masking.policy import MaskingPolicy

FIELDS = (
    "channel",
    "contact",
    "medium",
    "state",
    "started_by_type",
    "started_by",
    "started_by_credential",
    "kakao_template",
    "kakao_variables_shown",
    "first_message",
    "created_at",
    "updated_at",
    "closed_at",
)
OUTBOX_FIELDS = (
    "channel",
    "conversation",
    "medium",
    "status",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "created_at",
    "message_shown",
    "payload_shown",
    "last_error_shown",
)


def json_shown(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


class ReadOnlyMaskedAdmin(MaskedAdmin):
    """Rows that the product writes and this admin only shows."""

    view_permission = Permission.CONTACTS_VIEW

    def free_text(self, obj: Any, contact: Contact, value: Any) -> Any:
        """VALUE (text, or JSON holding text) about CONTACT, masked as free text."""
        policy: MaskingPolicy = self.policy_of(obj)
        return policy.free_value(value, own_values=own_sensitive_values(contact, policy))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyMaskedAdmin):
    # Conversations are started through the service (plan, medium and reachability rules),
    # never added, changed or deleted here.
    list_display = ["__str__", "medium", "state", "started_by_type", "created_at", "channel"]
    list_filter = ["medium", "state", ChannelListFilter]
    list_select_related = ["channel"]
    fields = FIELDS
    readonly_fields = FIELDS

    @admin.display(description="first message")
    def first_message(self, obj: Conversation) -> str:
        message = first_messages(channel=obj.channel, conversation_ids=[obj.pk]).get(obj.pk)
        return "" if message is None else self.free_text(obj, obj.contact, message.plain_text)

    @admin.display(description="kakao variables")
    def kakao_variables_shown(self, obj: Conversation) -> str:
        return json_shown(self.free_text(obj, obj.contact, obj.kakao_variables))


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyMaskedAdmin):
    """What waits to be delivered, and how its delivery went: the address it goes to, its
    text and the provider's error masked like any free text about the contact."""

    list_display = ["__str__", "medium", "status", "attempts", "next_attempt_at", "channel"]
    list_filter = ["status", "medium", ChannelListFilter]
    list_select_related = ["channel"]
    fields = OUTBOX_FIELDS
    readonly_fields = OUTBOX_FIELDS

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("conversation__contact", "message")

    @admin.display(description="message")
    def message_shown(self, obj: OutboxMessage) -> str:
        return self.free_text(obj, obj.conversation.contact, obj.message.plain_text)

    @admin.display(description="payload")
    def payload_shown(self, obj: OutboxMessage) -> str:
        return json_shown(self.free_text(obj, obj.conversation.contact, obj.payload))

    @admin.display(description="last error")
    def last_error_shown(self, obj: OutboxMessage) -> str:
        return self.free_text(obj, obj.conversation.contact, obj.last_error)
