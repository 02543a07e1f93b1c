"""Factories for contacts, tags and events."""

from __future__ import annotations

import factory
from django.utils import timezone

from contacts.models import Contact, Event
from tests.crm.factories import ChannelFactory


class ContactFactory(factory.django.DjangoModelFactory):
    """A lead: a name and an email (name and type are derived by the database)."""

    class Meta:
        model = Contact

    class Params:
        name = factory.Sequence(lambda n: f"고객 {n}")

    channel = factory.SubFactory(ChannelFactory)
    profile = factory.LazyAttributeSequence(
        lambda o, n: {"name": o.name, "email": f"customer{n}@shop.example"}
    )
    last_seen_at = factory.LazyFunction(timezone.now)


class MemberFactory(ContactFactory):
    member_id = factory.Sequence(lambda n: f"m-{n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    contact = factory.SubFactory(ContactFactory)
    channel = factory.SelfAttribute("contact.channel")
    name = "PageView"
    properties = factory.LazyFunction(dict)
    created_at = factory.LazyFunction(timezone.now)
