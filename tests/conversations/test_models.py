"""The conversations tables: tenant-first indexes and the constraints the database holds."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from conversations.models import Conversation, Message
from crm.models import Channel
from tests.conversations.factories import customer

TABLES = ["conversations_conversation", "conversations_message", "conversations_outboxmessage"]


@pytest.mark.django_db
def test_every_index_and_unique_key_leads_with_channel_id_but_the_delivery_queue() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " AND indexname NOT LIKE '%%_pkey'",
            [TABLES],
        )
        definitions = dict(cursor.fetchall())

    assert sorted(definitions) == [
        "conversation_contact_time_idx",
        "conversation_credential_idx",
        "conversation_started_by_idx",
        "conversation_template_idx",
        "message_author_user_idx",
        "message_conversation_time_idx",
        "outbox_conversation_idx",
        "outbox_due_idx",
        "outbox_once_per_message",
    ]
    # The workers' queue spans every channel, and holds only the pending rows.
    assert definitions.pop("outbox_due_idx").endswith(
        "(next_attempt_at, id) WHERE ((status)::text = 'pending'::text)"
    )
    for name, definition in definitions.items():
        assert definition.split("(", 1)[1].startswith("channel_id"), (name, definition)


@pytest.mark.django_db
def test_a_closed_state_needs_a_closing_time(channel: Channel) -> None:
    kim = customer(channel)
    conversation = Conversation.objects.create(
        channel=channel, contact=kim, medium="chat", started_by_type="manager"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(state="closed")


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "가" * 10_001])
def test_a_message_holds_1_to_10000_characters(channel: Channel, text: str) -> None:
    conversation = Conversation.objects.create(
        channel=channel, contact=customer(channel), medium="chat", started_by_type="manager"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            channel=channel, conversation=conversation, author_kind="system", plain_text=text
        )
