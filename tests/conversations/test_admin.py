"""The conversations admin: read-only, scoped to the channels where the manager sees contacts."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conversations import services
from conversations.models import Conversation
from crm.models import Channel
from crm.permissions import Permission
from tests.conversations.factories import customer, manager_viewer, role_with
from tests.crm.factories import manager_in


def started(channel: Channel, name: str) -> Conversation:
    return services.conversation_start(
        viewer=manager_viewer(channel),
        contact=customer(channel, name=name),
        medium="chat",
        message_text=f"Hello {name}",
    ).conversation


def client_for(channel: Channel, role: str) -> Client:
    client = Client()
    client.force_login(manager_in(channel, role).user)
    return client


@pytest.mark.django_db
def test_the_changelist_shows_only_the_managers_channel(
    channel: Channel, other_channel: Channel
) -> None:
    ours = started(channel, "Ours")
    theirs = started(other_channel, "Theirs")

    response = client_for(channel, "basic").get(
        reverse("admin:conversations_conversation_changelist")
    )

    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert listed == [ours]
    assert theirs not in listed


@pytest.mark.django_db
def test_a_conversation_is_shown_read_only_and_cannot_be_added_or_deleted(
    channel: Channel,
) -> None:
    conversation = started(channel, "Ours")
    client = client_for(channel, "owner")

    page = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    added = client.get(reverse("admin:conversations_conversation_add"))
    deleted = client.post(
        reverse("admin:conversations_conversation_delete", args=[conversation.pk]), {"post": "yes"}
    )

    assert page.status_code == 200
    assert "Hello Ours" in page.content.decode()
    assert page.context["has_change_permission"] is False
    assert added.status_code == 403
    assert deleted.status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


@pytest.mark.django_db
def test_without_contacts_view_the_admin_hides_conversations(channel: Channel) -> None:
    started(channel, "Ours")
    client = client_for(channel, role_with(channel, Permission.CONVERSATION_START))

    response = client.get(reverse("admin:conversations_conversation_changelist"))

    assert response.status_code == 403
