"""Database constraints on contacts and tags: they hold whatever path writes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact, ContactType, Tag
from crm.models import Channel
from tests.contacts.factories import ContactFactory, MemberFactory


@pytest.mark.django_db
def test_member_id_is_unique_per_channel(channel: Channel) -> None:
    MemberFactory(channel=channel, member_id="m-42")

    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(channel=channel, member_id="m-42")
    assert Contact.objects.filter(channel=channel, member_id="m-42").count() == 1


@pytest.mark.django_db
def test_the_same_member_id_may_live_in_two_channels(
    channel: Channel, other_channel: Channel
) -> None:
    MemberFactory(channel=channel, member_id="m-42")
    MemberFactory(channel=other_channel, member_id="m-42")

    assert Contact.objects.filter(member_id="m-42").count() == 2


@pytest.mark.django_db
def test_many_contacts_without_member_id_coexist(channel: Channel) -> None:
    ContactFactory.create_batch(3, channel=channel, member_id=None)

    assert Contact.objects.filter(channel=channel, member_id__isnull=True).count() == 3


@pytest.mark.django_db
def test_veil_id_is_unique_per_channel(channel: Channel, other_channel: Channel) -> None:
    ContactFactory(channel=channel, veil_id="v-1")
    ContactFactory(channel=other_channel, veil_id="v-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(channel=channel, veil_id="v-1")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"member_id": "m-1", "profile": {"email": "a@b.example"}}, ContactType.MEMBER),
        ({"profile": {"email": "a@b.example"}}, ContactType.LEAD),
        ({"profile": {"mobileNumber": "+821012345678"}}, ContactType.LEAD),
        ({"profile": {"landlineNumber": "+8225551234"}}, ContactType.LEAD),
        ({"profile": {}, "has_chat": True}, ContactType.LEAD),
        ({"profile": {"name": "Kim", "utmSource": "naver"}}, ContactType.ANONYMOUS),
    ],
)
def test_the_type_is_derived_by_the_database(
    channel: Channel, fields: dict[str, object], expected: str
) -> None:
    contact = Contact.objects.create(channel=channel, **fields)

    assert Contact.objects.get(pk=contact.pk).type == expected


@pytest.mark.django_db
def test_the_name_follows_profile_name_on_every_write(channel: Channel) -> None:
    contact = Contact.objects.create(channel=channel, profile={"name": "김민서"})
    assert Contact.objects.get(pk=contact.pk).name == "김민서"

    Contact.objects.filter(pk=contact.pk).update(profile={})

    assert Contact.objects.get(pk=contact.pk).name == ""


@pytest.mark.django_db
def test_the_database_refuses_a_profile_over_the_limits(channel: Channel) -> None:
    with (
        pytest.raises(IntegrityError, match="contact_profile_at_most_256_keys"),
        transaction.atomic(),
    ):
        Contact.objects.create(channel=channel, profile={f"k{n}": n for n in range(257)})
    with pytest.raises(IntegrityError, match="contact_profile_at_most_15kb"), transaction.atomic():
        Contact.objects.create(channel=channel, profile={"memo": "x" * 15400})

    assert Contact.objects.create(channel=channel, profile={f"k{n}": n for n in range(256)}).pk


@pytest.mark.django_db
def test_a_blocked_contact_records_when(channel: Channel) -> None:
    with pytest.raises(IntegrityError, match="contact_blocked_has_time"), transaction.atomic():
        ContactFactory(channel=channel, blocked=True, blocked_at=None)

    blocked = ContactFactory(channel=channel, blocked=True, blocked_at=timezone.now())
    assert blocked.blocked


@pytest.mark.django_db
def test_the_database_refuses_a_21st_tag(channel: Channel) -> None:
    with pytest.raises(IntegrityError, match="contact_tags_at_most_20"), transaction.atomic():
        ContactFactory(channel=channel, tags=[f"t{n}" for n in range(21)])

    assert ContactFactory(channel=channel, tags=[f"t{n}" for n in range(20)]).tags[-1] == "t19"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["has space", "dot.ted", "dollar$", "sla/sh", "back\\slash", "Upper"]
)
def test_the_tag_catalogue_refuses_forbidden_names(channel: Channel, name: str) -> None:
    with pytest.raises(IntegrityError, match="tag_name_allowed_characters"), transaction.atomic():
        Tag.objects.create(channel=channel, name=name)


@pytest.mark.django_db
def test_tag_names_are_unique_per_channel(channel: Channel, other_channel: Channel) -> None:
    Tag.objects.create(channel=channel, name="vip")
    Tag.objects.create(channel=other_channel, name="vip")

    with pytest.raises(IntegrityError), transaction.atomic():
        Tag.objects.create(channel=channel, name="vip")


@pytest.mark.django_db
def test_every_contact_index_and_unique_key_leads_with_channel_id() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contacts_contact'"
            " AND indexname <> 'contacts_contact_pkey'"
        )
        definitions = dict(cursor.fetchall())

    assert "contact_profile_gin" in definitions
    assert "contact_tags_gin" in definitions
    for name, definition in definitions.items():
        columns = definition.split("(", 1)[1]
        assert columns.startswith("channel_id"), (
            f"{name} does not lead with channel_id: {definition}"
        )


@pytest.mark.django_db
def test_the_planner_samples_300_profiles_for_containment_estimates() -> None:
    """contacts migration 0006: estimates of `profile @> {...}` in steps of a third of a percent
    rather than of one percent (the measurements are in the migration)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute"
            " WHERE attrelid = 'contacts_contact'::regclass AND attname = 'profile'"
        )
        assert cursor.fetchone()[0] == 300
