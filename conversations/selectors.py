"""Reads for conversations: every query scoped to one channel here (docs/ARCHITECTURE.md rule 1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from contacts.models import Contact
from contacts.selectors.contacts import contact_get
from conversations.models import Conversation, Message
from crm.cursors import cursor_decode, cursor_encode
from crm.errors import InvalidInput, Problem
from crm.models import Channel
from crm.permissions import Permission, Viewer

SORT_ORDERS = ("desc", "asc")


@dataclass(frozen=True)
class UserChatPage:
    """One page of a contact's conversations, each with its first message, and the next cursor."""

    items: list[tuple[Conversation, Message | None]]
    next: str | None


def conversations_for_channel(*, channel: Channel) -> QuerySet[Conversation]:
    """All conversations of CHANNEL: the root of every conversation query."""
    return Conversation.objects.filter(channel=channel)


def contact_for_viewer(*, viewer: Viewer, contact_id: str) -> Contact:
    """The contact CONTACT_ID of the viewer's channel; 404 for any other id (or channel)."""
    return contact_get(viewer=viewer, contact_id=contact_id)


def user_chat_page(
    *, viewer: Viewer, contact: Contact, order: str, limit: int, since: str | None
) -> UserChatPage:
    """CONTACT's conversations by creation time (ORDER desc or asc), LIMIT per page."""
    scope = f"{viewer.channel.pk}:user-chats:{contact.pk}:{order}"
    rows = conversations_for_channel(channel=viewer.channel).filter(contact=contact)
    if not viewer.can(Permission.CONTACTS_VIEW):
        rows = rows.none()
    if since:
        rows = rows.filter(_after(cursor_decode(since, scope=scope), order))
    fields = ("created_at", "id") if order == "asc" else ("-created_at", "-id")
    page = list(
        rows.select_related("started_by", "started_by_credential").order_by(*fields)[: limit + 1]
    )
    more = len(page) > limit
    page = page[:limit]
    firsts = first_messages(channel=viewer.channel, conversation_ids=[c.pk for c in page])
    next_cursor = (
        cursor_encode(scope=scope, position=[page[-1].created_at.isoformat(), page[-1].pk])
        if more
        else None
    )
    return UserChatPage(items=[(c, firsts.get(c.pk)) for c in page], next=next_cursor)


def _after(position: list[Any], order: str) -> Q:
    """Rows after POSITION ([created_at, id] of the last row seen) in ORDER."""
    try:
        created_at, last_id = datetime.fromisoformat(position[0]), int(position[1])
    except (IndexError, TypeError, ValueError) as error:
        raise InvalidInput(
            [Problem("since", "invalid_cursor", "The cursor is not valid.")]
        ) from error
    if order == "asc":
        return Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=last_id)
    return Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=last_id)


def first_messages(*, channel: Channel, conversation_ids: Iterable[int]) -> dict[int, Message]:
    """The first message of each conversation, in one query (DISTINCT ON the conversation)."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    rows = (
        Message.objects.filter(channel=channel, conversation_id__in=ids)
        .order_by("conversation_id", "created_at", "id")
        .distinct("conversation_id")
    )
    return {message.conversation_id: message for message in rows}
