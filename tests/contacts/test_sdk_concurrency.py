"""Concurrent writes to one contact lose nothing (ARCHITECTURE rule 3), through real requests."""

from __future__ import annotations

import pytest

from contacts.models import Contact
from crm.provisioning import channel_provision
from profile_schema.services import profile_field_create
from tests.concurrency import run_together
from tests.contacts.sdk_client import Sdk


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_boots_of_a_new_member_create_one_contact() -> None:
    channel = channel_provision(name="Race")

    statuses = run_together(
        20,
        lambda n: (
            Sdk(channel, address=f"10.0.0.{n}")
            .boot(memberId="m-race", profile={"name": "Kim"}, tags=["vip"])
            .status_code
        ),
    )

    assert statuses == [200] * 20
    contacts = Contact.objects.filter(channel=channel)
    assert contacts.count() == 1
    assert (contacts.get().member_id, contacts.get().tags) == ("m-race", ["vip"])


@pytest.mark.django_db(transaction=True)
def test_eight_writers_adding_25_keys_each_keep_all_200() -> None:
    channel = channel_provision(name="Race")
    for n in range(200):
        profile_field_create(channel=channel, key=f"attr{n}", name=f"Attribute {n}", type="number")
    sdk = Sdk(channel)
    assert sdk.boot(memberId="m-1").status_code == 200

    def add_keys(writer: int) -> int:
        keys = {f"attr{writer * 25 + i}": writer for i in range(25)}
        return int(sdk.call("user", {"profile": keys}).status_code)

    statuses = run_together(8, add_keys)

    assert statuses == [200] * 8
    profile = Contact.objects.get(channel=channel, member_id="m-1").profile
    assert len(profile) == 200
    assert all(profile[f"attr{w * 25 + i}"] == w for w in range(8) for i in range(25))


@pytest.mark.django_db(transaction=True)
def test_concurrent_boots_keep_the_first_touch_and_count_every_tag() -> None:
    channel = channel_provision(name="Race")

    run_together(
        8,
        lambda n: Sdk(channel).boot(
            memberId="m-1",
            tags=[f"t{n}"],
            page={"url": f"https://shop.example/?utm_source=s{n}"},
        ),
    )

    contact = Contact.objects.get(channel=channel, member_id="m-1")
    assert sorted(contact.tags) == [f"t{n}" for n in range(8)]
    first = contact.profile["utmSource"]
    assert first in {f"s{n}" for n in range(8)}
    assert contact.profile["lastUtmSource"] in {f"s{n}" for n in range(8)}
