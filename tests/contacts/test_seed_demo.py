"""The demo data: complete, valid, deterministic, loaded once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from contacts import demo
from contacts.models import Contact, ContactType, Event, Tag
from crm import services
from crm.models import ApiCredential, Channel


def seed(contacts: int = 300) -> str:
    out = StringIO()
    call_command("seed_demo", "--contacts", str(contacts), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_creates_the_paid_and_free_channels_with_contacts_of_every_kind() -> None:
    assert "Created demo channels Demo shop, Demo free" in seed(300)

    shop = Channel.objects.get(plugin_key=demo.DEMO_PLUGIN_KEY)
    free = Channel.objects.get(plugin_key=demo.DEMO_FREE_PLUGIN_KEY)
    assert (shop.plan, free.plan) == ("paid", "free")
    assert (shop.phone_number, shop.kakao_connected) == ("+8215881234", True)
    contacts = Contact.objects.filter(channel=shop)
    assert contacts.count() == 300
    assert Contact.objects.filter(channel=free).count() == 30
    assert set(contacts.values_list("type", flat=True)) == set(ContactType.values)
    assert contacts.filter(blocked=True).exists()
    assert contacts.filter(tags__contains=["withdrawn"]).exists()
    assert Event.objects.filter(channel=shop).exists()
    assert set(Tag.objects.filter(channel=shop).values_list("name", flat=True)) == set(demo.TAGS)


@pytest.mark.django_db
def test_demo_profiles_follow_the_field_rules() -> None:
    seed(200)

    for contact in Contact.objects.exclude(type=ContactType.ANONYMOUS):
        profile = contact.profile
        assert profile["mobileNumber"].startswith("+8210") and len(profile["mobileNumber"]) == 13
        assert "@" in profile["email"]
        assert contact.name == profile["name"]
        assert len(contact.tags) <= 20
        if "lastCheckoutCompletedAt" in profile:
            assert isinstance(profile["lastCheckoutCompletedAt"], int)
    assert all(c.member_id for c in Contact.objects.filter(type=ContactType.MEMBER))


@pytest.mark.django_db
def test_a_second_seed_changes_nothing() -> None:
    seed(100)
    before = (Channel.objects.count(), Contact.objects.count(), Event.objects.count())

    assert "Already loaded" in seed(100)

    assert (Channel.objects.count(), Contact.objects.count(), Event.objects.count()) == before


@pytest.mark.django_db
def test_the_seed_is_deterministic() -> None:
    seed(80)
    first = sorted(Contact.objects.values_list("veil_id", "member_id", "name", "tags"))
    Channel.objects.all().delete()

    seed(80)

    assert sorted(Contact.objects.values_list("veil_id", "member_id", "name", "tags")) == first


@pytest.mark.django_db
def test_the_printed_demo_logins_and_credential_work() -> None:
    seed(10)

    for email, password, role in demo.DEMO_MANAGERS:
        user = authenticate(username=email, password=password)
        assert user is not None, email
        assert user.memberships.get(channel__plugin_key=demo.DEMO_PLUGIN_KEY).role.name == role
    credential = ApiCredential.objects.get(access_key=demo.DEMO_ACCESS_KEY)
    assert services.secret_matches(secret=demo.DEMO_ACCESS_SECRET, hashed=credential.secret_hash)


@pytest.mark.django_db
def test_the_demo_channels_require_the_member_hash() -> None:
    seed(10)

    assert set(Channel.objects.values_list("require_member_hash", flat=True)) == {True}
