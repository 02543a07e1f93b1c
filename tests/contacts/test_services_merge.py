"""Merging a device's contact into its member: the rules for each value, and the rows moved."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contacts.models import Contact, ContactActivity, Event
from contacts.services.merge import (
    contact_merge_device_into_member,
    merged_fields,
    profiles_merge,
    tags_merge,
)
from conversations.models import Conversation
from conversations.services import conversation_start
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from tests.contacts.factories import ContactFactory, EventFactory, MemberFactory

EARLY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATE = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)

# -- profiles, tags, columns --------------------------------------------------------------------


def test_member_values_win_and_the_other_fills_what_the_member_lacks() -> None:
    merged = profiles_merge(
        member={"name": "Kim", "email": "", "points": 10, "note": None},
        other={"name": "Anonymous", "email": "kim@shop.example", "city": "Seoul", "note": None},
        member_is_older=True,
    )

    assert merged == {
        "name": "Kim",
        "email": "kim@shop.example",
        "city": "Seoul",
        "points": 10,
        "note": None,
    }


@pytest.mark.parametrize(
    ("member_is_older", "expected"), [(True, "naver"), (False, "google")], ids=["member", "other"]
)
def test_the_older_contacts_first_touch_stays_first(member_is_older: bool, expected: str) -> None:
    merged = profiles_merge(
        member={"utmSource": "naver", "referrer": ""},
        other={"utmSource": "google", "referrer": "https://blog.example/"},
        member_is_older=member_is_older,
    )

    # An empty first touch of the older contact is no first touch: the newer one's stands.
    assert merged == {"utmSource": expected, "referrer": "https://blog.example/"}


def test_the_others_extra_keys_go_last_first_until_the_profile_fits() -> None:
    member = {f"m{n}": n for n in range(250)}
    other = {f"o{n}": n for n in range(10)}

    merged = profiles_merge(member=member, other=other, member_is_older=True)

    assert len(merged) == 256
    assert merged == {**{f"o{n}": n for n in range(6)}, **member}


def test_tags_keep_the_members_order_then_add_the_others_up_to_20() -> None:
    assert tags_merge(member=["vip", "gold"], other=["gold", "new"]) == ["vip", "gold", "new"]
    assert tags_merge(member=[f"m{n}" for n in range(18)], other=["a", "b", "c"]) == [
        *(f"m{n}" for n in range(18)),
        "a",
        "b",
    ]


def test_merged_fields_sum_visits_keep_the_earliest_creation_and_the_newer_device(
    channel: Channel,
) -> None:
    member = Contact(
        channel=channel,
        member_id="m-1",
        profile={"name": "Kim"},
        tags=["vip"],
        sessions_count=3,
        web_sessions_count=3,
        web_browser="Chrome 120",
        web_last_seen_at=EARLY,
        created_at=LATE,
        language="",
        country="KR",
        unsubscribe_email=False,
        has_chat=False,
    )
    other = Contact(
        channel=channel,
        veil_id="device-0001",
        profile={"email": "kim@shop.example"},
        tags=["new"],
        sessions_count=2,
        web_sessions_count=1,
        mobile_sessions_count=1,
        web_browser="Firefox 130",
        web_browser_name="Firefox",
        web_os="Windows 10",
        web_last_seen_at=LATE,
        created_at=EARLY,
        language="ko",
        city="Seoul",
        unsubscribe_email=True,
        has_push_token=True,
        has_chat=True,
    )

    assert merged_fields(member=member, other=other) == {
        "profile": {"email": "kim@shop.example", "name": "Kim"},
        "tags": ["vip", "new"],
        "sessions_count": 5,
        "web_sessions_count": 4,
        "mobile_sessions_count": 1,
        "created_at": EARLY,
        "unsubscribe_email": True,
        "unsubscribe_texting": False,
        "has_push_token": True,
        "has_chat": True,
        "language": "ko",
        "city": "Seoul",
        "country": "KR",
        # The other's web visit is newer: its browser, OS and device are the member's now.
        "web_browser": "Firefox 130",
        "web_browser_name": "Firefox",
        "web_os": "Windows 10",
        "web_os_name": "",
        "web_device": "",
        "web_last_seen_at": LATE,
    }


# -- the merge ----------------------------------------------------------------------------------


def test_the_device_contact_goes_into_the_member_with_everything_it_held(
    channel: Channel,
) -> None:
    member = MemberFactory(channel=channel, member_id="m-1", profile={"name": "Kim"}, tags=["vip"])
    device = ContactFactory(
        channel=channel, veil_id="device-0001", profile={"email": "kim@shop.example"}, tags=["new"]
    )
    event = EventFactory(contact=device, name="Viewed")
    ContactActivity.objects.bulk_create(
        [
            ContactActivity(channel=channel, contact=member, month=date(2026, 2, 1)),
            ContactActivity(channel=channel, contact=device, month=date(2026, 2, 1)),
            ContactActivity(channel=channel, contact=device, month=date(2026, 3, 1)),
        ]
    )
    started = conversation_start(
        viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS),
        contact=device,
        medium="chat",
        message_text="Hello!",
    )

    merged = contact_merge_device_into_member(
        channel=channel, member_contact_id=member.pk, veil_id="device-0001", now=NOW
    )

    stored = Contact.objects.get(pk=member.pk)
    assert merged is True
    assert list(Contact.objects.filter(channel=channel).values_list("pk", flat=True)) == [member.pk]
    assert (stored.profile, stored.tags, stored.updated_at) == (
        {"email": "kim@shop.example", "name": "Kim"},
        ["vip", "new"],
        NOW,
    )
    assert list(Event.objects.values_list("pk", "contact_id")) == [(event.pk, member.pk)]
    assert list(Conversation.objects.values_list("pk", "contact_id")) == [
        (started.conversation.pk, member.pk)
    ]
    months = ContactActivity.objects.filter(contact=member).order_by("month")
    assert list(months.values_list("month", flat=True)) == [date(2026, 2, 1), date(2026, 3, 1)]


def test_nothing_is_merged_without_a_non_member_contact_on_the_device(
    channel: Channel, other_channel: Channel
) -> None:
    member = MemberFactory(channel=channel, member_id="m-1")
    MemberFactory(channel=channel, member_id="m-2", veil_id="device-0001")  # a member stays
    ContactFactory(channel=other_channel, veil_id="device-0002")  # another channel's device
    before = list(Contact.objects.order_by("pk").values())

    merged = [
        contact_merge_device_into_member(
            channel=channel, member_contact_id=member.pk, veil_id=veil, now=NOW
        )
        for veil in ("device-0001", "device-0002", "device-0003")
    ]

    assert merged == [False, False, False]
    assert list(Contact.objects.order_by("pk").values()) == before
