"""Tags on contacts and in the channel's catalogue."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contacts import services
from contacts.models import MAX_TAGS_PER_CHANNEL, Contact, Tag
from crm.models import Channel
from tests.contacts.factories import ContactFactory


def test_tags_are_lowercased_trimmed_and_deduplicated() -> None:
    assert services.tags_clean([" VIP ", "vip", "Gold", "first-order"]) == [
        "vip",
        "gold",
        "first-order",
    ]


@pytest.mark.parametrize("tag", ["a b", "a.b", "a$b", "a/b", "a\\b", "", "   ", 7, None])
def test_tags_clean_refuses_a_forbidden_tag_and_names_it(tag: object) -> None:
    with pytest.raises(ValidationError) as error:
        services.tags_clean(["vip", tag])

    assert repr(tag) in error.value.message_dict["tags"][0]


def test_tags_clean_takes_20_tags_and_refuses_21() -> None:
    assert len(services.tags_clean([f"t{n}" for n in range(20)])) == 20
    with pytest.raises(ValidationError, match="at most 20 tags; 21 were given"):
        services.tags_clean([f"t{n}" for n in range(21)])


def test_tags_clean_refuses_a_tag_longer_than_50_characters() -> None:
    assert services.tags_clean(["a" * 50]) == ["a" * 50]
    with pytest.raises(ValidationError, match="at most 50 characters"):
        services.tags_clean(["a" * 51])


@pytest.mark.django_db
def test_contact_tags_set_replaces_the_tags_and_fills_the_catalogue(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, tags=["old"])
    before = contact.updated_at

    services.contact_tags_set(contact=contact, tags=["VIP", "gold"])

    assert Contact.objects.get(pk=contact.pk).tags == ["vip", "gold"]
    assert set(Tag.objects.filter(channel=channel).values_list("name", flat=True)) == {
        "vip",
        "gold",
    }
    assert contact.updated_at > before


@pytest.mark.django_db
def test_contact_tags_set_with_the_same_tags_writes_nothing(channel: Channel) -> None:
    contact = ContactFactory(channel=channel)
    services.contact_tags_set(contact=contact, tags=["vip"])
    stamp = Contact.objects.get(pk=contact.pk).updated_at

    services.contact_tags_set(contact=contact, tags=["vip"])

    assert Contact.objects.get(pk=contact.pk).updated_at == stamp


@pytest.mark.django_db
def test_the_catalogue_refuses_the_1001st_tag_and_the_contact_keeps_its_tags(
    channel: Channel,
) -> None:
    Tag.objects.bulk_create(
        [Tag(channel=channel, name=f"t{n}") for n in range(MAX_TAGS_PER_CHANNEL)]
    )
    contact = ContactFactory(channel=channel, tags=["t1"])

    with pytest.raises(ValidationError, match="at most 1000 distinct tags"):
        services.contact_tags_set(contact=contact, tags=["t1", "brand-new"])

    assert Contact.objects.get(pk=contact.pk).tags == ["t1"]
    assert Tag.objects.filter(channel=channel).count() == MAX_TAGS_PER_CHANNEL
    services.contact_tags_set(contact=contact, tags=["t2", "t3"])  # known tags still work
    assert Contact.objects.get(pk=contact.pk).tags == ["t2", "t3"]


@pytest.mark.django_db
def test_contact_consent_set_writes_only_a_change(channel: Channel) -> None:
    contact = ContactFactory(channel=channel)

    services.contact_consent_set(contact=contact, unsubscribe_email=True, unsubscribe_texting=False)
    stamp = Contact.objects.get(pk=contact.pk).updated_at
    services.contact_consent_set(contact=contact, unsubscribe_email=True, unsubscribe_texting=False)

    saved = Contact.objects.get(pk=contact.pk)
    assert (saved.unsubscribe_email, saved.unsubscribe_texting) == (True, False)
    assert saved.updated_at == stamp
