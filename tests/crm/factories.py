"""Factories for channels, managers and roles (through the services, as the product does)."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.test import Client

from crm import services
from crm.models import Channel, Membership, Plan
from crm.provisioning import channel_provision


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"Channel {n}")
    plan = Plan.PAID

    @classmethod
    def _create(cls, model_class: type[Channel], *args: object, **kwargs: object) -> Channel:
        return channel_provision(**kwargs)  # type: ignore[arg-type]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"manager{n}@shop.example")
    email = factory.SelfAttribute("username")
    is_staff = True
    password = factory.django.Password("a-good-password-1")


def manager_in(channel: Channel, role_name: str = "owner", **user_fields: object) -> Membership:
    """A staff user who belongs to CHANNEL with the role called ROLE_NAME."""
    user = UserFactory(**user_fields)
    role = services.role_get(channel=channel, name=role_name)
    return Membership.objects.create(channel=channel, user=user, role=role)


def manager_client(channel: Channel, role: str = "owner") -> Client:
    """A browser client logged in as a new manager of CHANNEL with the role called ROLE."""
    client = Client()
    client.force_login(manager_in(channel, role).user)
    return client
