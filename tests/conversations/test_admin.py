"""The conversations and outbox admins: read-only, scoped to the channels where the manager sees
contacts, free text about the contact masked."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conversations import services
from conversations.models import Conversation, OutboxMessage
from crm.models import Channel
from crm.permissions import Permission
from masking.maskers import FULL_MASK
from profile_schema.models import ProfileField
from tests.conversations.factories import (
    MOBILE,
    KakaoTemplateFactory,
    channel_connect,
    customer,
    manager_viewer,
    role_with,
)
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


def kakao_started(channel: Channel) -> Conversation:
    """A Kakao AlimTalk to 김지우 (name sensitive here; the mobile number is in every channel),
    her name in the template's variables and so in the first message and the outbox row."""
    ProfileField.objects.filter(channel=channel, key="profile.name").update(sensitive=True)
    channel_connect(channel)
    KakaoTemplateFactory(channel=channel, code="order-shipped")
    return services.conversation_start(
        viewer=manager_viewer(channel),
        contact=customer(channel, name="김지우", mobileNumber=MOBILE),
        medium="kakaoAlimtalk",
        message_text="",
        template_code="order-shipped",
        variables={"name": "김지우", "orderId": "A-1001"},
    ).conversation


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["basic", "owner"])
def test_the_first_message_and_template_variables_are_masked_as_free_text(
    channel: Channel, role: str
) -> None:
    conversation = kakao_started(channel)

    page = client_for(channel, role).get(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    )

    body = page.content.decode()
    assert "김지우" not in body
    assert f"{FULL_MASK}님, 주문 A-1001이(가) 발송되었습니다." in body
    assert "A-1001" in body


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["basic", "owner"])
def test_the_outbox_shows_where_and_what_it_delivers_masked(channel: Channel, role: str) -> None:
    conversation = kakao_started(channel)
    outbox = OutboxMessage.objects.get(conversation=conversation)
    client = client_for(channel, role)

    listed = client.get(reverse("admin:conversations_outboxmessage_changelist"))
    page = client.get(reverse("admin:conversations_outboxmessage_change", args=[outbox.pk]))

    assert listed.status_code == 200 and list(listed.context["cl"].result_list) == [outbox]
    body = page.content.decode()
    assert MOBILE not in body and "1012345678" not in body and "김지우" not in body
    assert f"&quot;to&quot;: &quot;{FULL_MASK}&quot;" in body  # the customer's own number
    assert f"{FULL_MASK}님, 주문 A-1001" in body


@pytest.mark.django_db
def test_the_outbox_is_read_only_and_scoped_to_the_managers_channels(
    channel: Channel, other_channel: Channel
) -> None:
    ours = OutboxMessage.objects.get(conversation=started(channel, "Ours"))
    theirs = OutboxMessage.objects.get(conversation=started(other_channel, "Theirs"))
    client = client_for(channel, "owner")
    change = reverse("admin:conversations_outboxmessage_change", args=[ours.pk])

    listed = client.get(reverse("admin:conversations_outboxmessage_changelist"))
    added = client.get(reverse("admin:conversations_outboxmessage_add"))
    posted = client.post(change, {"status": "sent"})
    deleted = client.post(
        reverse("admin:conversations_outboxmessage_delete", args=[ours.pk]), {"post": "yes"}
    )
    foreign = client.get(reverse("admin:conversations_outboxmessage_change", args=[theirs.pk]))

    assert list(listed.context["cl"].result_list) == [ours]
    assert (added.status_code, posted.status_code, deleted.status_code) == (403, 403, 403)
    assert foreign.status_code == 302
    ours.refresh_from_db()
    assert ours.status == "pending"
    no_view = client_for(channel, role_with(channel, Permission.CONVERSATION_START))
    assert no_view.get(change).status_code == 403
