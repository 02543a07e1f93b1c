"""Factories for contacts, tags and events."""

from __future__ import annotations

import factory
from django.utils import timezone

from contacts.models import Contact, ContactType, Event
from tests.crm.factories import ChannelFactory


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    channel = factory.SubFactory(ChannelFactory)
    type = ContactType.LEAD
    name = factory.Sequence(lambda n: f"고객 {n}")
    profile = factory.LazyAttribute(lambda o: {"name": o.name})
    last_seen_at = factory.LazyFunction(timezone.now)


class MemberFactory(ContactFactory):
    type = ContactType.MEMBER
    member_id = factory.Sequence(lambda n: f"m-{n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    contact = factory.SubFactory(ContactFactory)
    channel = factory.SelfAttribute("contact.channel")
    name = "PageView"
    properties = factory.LazyFunction(dict)
    created_at = factory.LazyFunction(timezone.now)
