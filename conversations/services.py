"""Writes for conversations: starting one, with its first message and its outbox row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models.functions import Now
from django.http import Http404
from django.utils import timezone

from contacts.models import Contact
from conversations import media
from conversations.models import (
    KAKAO_MEDIA,
    AuthorKind,
    Conversation,
    Message,
    OutboxMessage,
    StarterType,
)
from crm import errors
from crm.errors import InvalidInput
from crm.models import Channel, KakaoTemplate, Plan
from crm.permissions import Permission, Viewer

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# A paid-plan feature used on the free plan: the API answers 403 `plan_required`.
PlanRequired = errors.PlanRequired


@dataclass(frozen=True)
class StartedConversation:
    """What conversation_start wrote: the conversation, its first message, its outbox row."""

    conversation: Conversation
    first_message: Message
    outbox: OutboxMessage


def conversation_plan_check(*, channel: Channel) -> None:
    """Refuse with PlanRequired unless CHANNEL's plan includes new chats and conversations."""
    if channel.plan != Plan.PAID:
        raise PlanRequired(
            "Starting a new chat or conversation needs the paid plan; this channel is on the "
            "free plan. Upgrade the channel's plan to use it."
        )


@transaction.atomic
def conversation_start(
    *,
    viewer: Viewer,
    contact: Contact,
    medium: str,
    message_text: str,
    template_code: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> StartedConversation:
    """Start a conversation, its first message and outbox row; or refuse with every reason."""
    if not viewer.can(Permission.CONVERSATION_START):
        raise PermissionDenied("Your role lacks the conversation_start permission needed for this.")
    channel = viewer.channel
    conversation_plan_check(channel=channel)
    # The row lock holds the customer as checked (not blocked, reachable) until the commit.
    locked = Contact.objects.select_for_update().filter(pk=contact.pk, channel=channel).first()
    if locked is None:
        raise Http404("No such user in this channel.")
    template = _template_find(channel=channel, medium=medium, code=template_code)
    checked = media.medium_check(
        channel=channel,
        contact=locked,
        medium=medium,
        text=message_text,
        template_code=template_code,
        template=template,
        variables=variables or {},
    )
    if checked.problems or checked.first_message is None:
        raise InvalidInput(checked.problems)
    return _conversation_write(
        viewer=viewer, contact=locked, medium=medium, template=template, checked=checked
    )


def _template_find(*, channel: Channel, medium: str, code: str | None) -> KakaoTemplate | None:
    if medium not in KAKAO_MEDIA or not code:
        return None
    return KakaoTemplate.objects.filter(channel=channel, code=code).first()


def _conversation_write(
    *,
    viewer: Viewer,
    contact: Contact,
    medium: str,
    template: KakaoTemplate | None,
    checked: media.Checked,
) -> StartedConversation:
    assert checked.first_message is not None
    channel = viewer.channel
    # An API credential starts as itself; a manager (a session) as their user.
    user = None if viewer.credential else cast("User | None", viewer.user)
    conversation = Conversation.objects.create(
        channel=channel,
        contact=contact,
        medium=medium,
        started_by_type=StarterType.API if viewer.credential else StarterType.MANAGER,
        started_by=user,
        started_by_credential=viewer.credential,
        kakao_template=template,
        kakao_variables=checked.variables,
    )
    first = checked.first_message
    message = Message.objects.create(
        channel=channel,
        conversation=conversation,
        author_kind=first.author_kind,
        author_user=user if first.author_kind == AuthorKind.MANAGER else None,
        plain_text=first.text,
    )
    outbox = OutboxMessage.objects.create(
        channel=channel,
        conversation=conversation,
        message=message,
        medium=medium,
        payload=_outbox_payload(conversation=conversation, message=message, checked=checked),
        next_attempt_at=timezone.now(),
    )
    Contact.objects.filter(pk=contact.pk, has_chat=False).update(has_chat=True, updated_at=Now())
    return StartedConversation(conversation=conversation, first_message=message, outbox=outbox)


def _outbox_payload(
    *, conversation: Conversation, message: Message, checked: media.Checked
) -> dict[str, Any]:
    """What a delivery provider needs, fixed now: a later profile change redirects nothing."""
    channel = conversation.channel
    template = conversation.kakao_template
    sender = {
        "phone": channel.phone_number,
        "kakaoAlimtalk": channel.kakao_channel_id,
        "kakaoBrandMessage": channel.kakao_channel_id,
    }.get(conversation.medium)
    return {
        "medium": conversation.medium,
        "channelId": str(channel.pk),
        "conversationId": str(conversation.pk),
        "messageId": str(message.pk),
        "userId": str(conversation.contact_id),
        "from": sender or None,
        "to": checked.address,
        "plainText": message.plain_text,
        "template": None
        if template is None
        else {"code": template.code, "kind": template.kind, "variables": checked.variables},
    }
