"""Factories and helpers for conversations: Kakao templates, reachable customers, viewers."""

from __future__ import annotations

from typing import Any

import factory
from django.test import Client

from contacts.models import Contact
from conversations.models import Conversation, Message, OutboxMessage
from crm import services as crm_services
from crm.models import Channel, KakaoTemplate, KakaoTemplateKind
from crm.permissions import Viewer, viewer_for_credential
from crm.selectors import viewer_for_user
from tests.contacts.factories import ContactFactory
from tests.crm.factories import ChannelFactory, manager_in

CHANNEL_PHONE = "+8215881234"
KAKAO_CHANNEL = "@shop-a"
MOBILE = "+821012345678"
LANDLINE = "+8225551234"
ORDER_SHIPPED = "#{name}님, 주문 #{orderId}이(가) 발송되었습니다."


class KakaoTemplateFactory(factory.django.DjangoModelFactory):
    """An approved AlimTalk template with two variables."""

    class Meta:
        model = KakaoTemplate

    channel = factory.SubFactory(ChannelFactory)
    code = factory.Sequence(lambda n: f"order-shipped-{n}")
    kind = KakaoTemplateKind.ALIMTALK
    name = factory.Sequence(lambda n: f"Order shipped {n}")
    body = ORDER_SHIPPED
    approved = True


def channel_connect(
    channel: Channel, *, phone: str = CHANNEL_PHONE, kakao: str = KAKAO_CHANNEL
) -> Channel:
    """Give CHANNEL an issued phone number and a connected Kakao channel."""
    Channel.objects.filter(pk=channel.pk).update(phone_number=phone, kakao_channel_id=kakao)
    channel.refresh_from_db()
    return channel


def customer(channel: Channel, **profile: Any) -> Contact:
    """A customer named Kim, with the given profile values (and nothing else)."""
    contact: Contact = ContactFactory(channel=channel, profile={"name": "Kim", **profile})
    return contact


def manager_viewer(channel: Channel, role: str = "owner", **user_fields: Any) -> Viewer:
    """The viewer a new manager with ROLE is in CHANNEL."""
    viewer = viewer_for_user(user=manager_in(channel, role, **user_fields).user, channel=channel)
    assert viewer is not None
    return viewer


def role_with(channel: Channel, *permissions: str) -> str:
    """A new role holding exactly PERMISSIONS; returns its name."""
    name = "role-" + "-".join(permissions or ("none",))
    crm_services.role_create(channel=channel, name=name, permissions=permissions)
    return name


class ApiClient:
    """/open/v5 over Django's test client, with an API credential of ROLE."""

    def __init__(self, channel: Channel, role: str = "owner", name: str = "Shop sync") -> None:
        issued = crm_services.credential_create(
            channel=channel, role=crm_services.role_get(channel=channel, name=role), name=name
        )
        self.credential = issued.credential
        self.viewer = viewer_for_credential(credential=issued.credential)
        self.client = Client()
        self.headers = {
            "x-access-key": issued.credential.access_key,
            "x-access-secret": issued.secret,
        }

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/open/v5/{path}", params, headers=self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            f"/open/v5/{path}", body, content_type="application/json", headers=self.headers
        )


def written(contact: Contact) -> tuple[int, int, int, bool, Any]:
    """What a refusal must leave untouched: row counts and the contact's chat flag and time."""
    contact_now = Contact.objects.get(pk=contact.pk)
    return (
        Conversation.objects.count(),
        Message.objects.count(),
        OutboxMessage.objects.count(),
        contact_now.has_chat,
        contact_now.updated_at,
    )
