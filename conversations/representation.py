"""The userChat object of the API: the one place a conversation is turned into output, through
the viewer's masking policy (masking.policy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conversations.models import Conversation, Message, StarterType
from crm.api import epoch_ms
from masking.policy import MaskingPolicy


def started_by_object(conversation: Conversation) -> dict[str, Any]:
    """Who started CONVERSATION: a manager or an API credential (id null once deleted)."""
    if conversation.started_by_type == StarterType.API:
        credential = conversation.started_by_credential
        return {
            "type": "api",
            "id": None if credential is None else str(credential.pk),
            # Never the access key: it is half of the credential.
            "name": ""
            if credential is None
            else credential.name or f"API credential {credential.pk}",
        }
    user = conversation.started_by
    if user is None:
        return {"type": "manager", "id": None, "name": ""}
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return {"type": "manager", "id": str(user.pk), "name": full_name or user.get_username()}


def user_chat_object(
    conversation: Conversation,
    first_message: Message | None,
    *,
    policy: MaskingPolicy,
    own_values: Sequence[str] = (),
) -> dict[str, Any]:
    """CONVERSATION as the API's userChat object, as POLICY's viewer sees it: a message is free
    text, with phone numbers, emails and OWN_VALUES (the customer's own sensitive values)
    masked."""
    return {
        "id": str(conversation.pk),
        "channelId": str(conversation.channel_id),
        "userId": str(conversation.contact_id),
        "medium": conversation.medium,
        "state": conversation.state,
        "startedBy": started_by_object(conversation),
        "firstMessage": None
        if first_message is None
        else {
            "plainText": policy.text_mask(first_message.plain_text, own_values=own_values),
            "createdAt": epoch_ms(first_message.created_at),
        },
        "createdAt": epoch_ms(conversation.created_at),
        "updatedAt": epoch_ms(conversation.updated_at),
        "closedAt": epoch_ms(conversation.closed_at),
    }
