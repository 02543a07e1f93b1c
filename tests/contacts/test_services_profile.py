"""Writes of a contact's data by managers, API clients and the SDK, called directly."""

from __future__ import annotations

import pytest

from contacts.models import Contact
from contacts.services.profile import contact_consent_set
from crm.models import Channel
from tests.contacts.factories import ContactFactory


@pytest.mark.django_db
def test_contact_consent_set_writes_only_a_change(channel: Channel) -> None:
    contact = ContactFactory(channel=channel)

    contact_consent_set(contact=contact, unsubscribe_email=True, unsubscribe_texting=False)
    stamp = Contact.objects.get(pk=contact.pk).updated_at
    contact_consent_set(contact=contact, unsubscribe_email=True, unsubscribe_texting=False)

    saved = Contact.objects.get(pk=contact.pk)
    assert (saved.unsubscribe_email, saved.unsubscribe_texting) == (True, False)
    assert saved.updated_at == stamp
