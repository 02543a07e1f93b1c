"""Boots that name a member without a valid member hash, and the sessions they get.

Where a channel allows them, such boots (anyone holding the public plugin key can send one)
read nothing of the member, only fill empty profile keys, change no tag and merge no device
contact; every call with their session token follows the same rules. Where the channel requires
the hash (the default), they are refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing
from django.utils import timezone

from contacts.models import Contact, Event, Tag
from contacts.services.boot import SESSION_TOKEN_SALT, session_is_verified
from crm.errors import AuthenticationFailed
from crm.models import Channel
from tests.contacts.factories import EventFactory, MemberFactory
from tests.contacts.sdk_client import WINDOWS_CHROME, Sdk
from tests.crm.factories import ChannelFactory

MEMBER_ID = "m-12000"
STORED_PROFILE = {
    "name": "Markername Zq",
    "email": "marker.e7q2@leak.example",
    "mobileNumber": "+821077712345",
    "description": "marker-desc-k4",
    "lastCheckoutCompletedAt": 1700000000123,
}
STORED_TAGS = ["withdrawn", "markertag"]
MARKERS = (
    "Markername",
    "marker.e7q2",
    "leak.example",
    "77712345",
    "7771-2345",
    "marker-desc-k4",
    "1700000000123",
    "withdrawn",
    "markertag",
    "marker-event-p9",
    "MarkerSeen",
    "Safari",
    "Busan",
)
UNVERIFIED = "without a valid memberHash"


@pytest.fixture
def lenient(db: None) -> Channel:
    """A channel that lets boots name a member without a member hash."""
    return ChannelFactory(name="Lenient shop", require_member_hash=False)


@pytest.fixture
def member(lenient: Channel) -> Contact:
    contact = MemberFactory(
        channel=lenient,
        member_id=MEMBER_ID,
        profile=dict(STORED_PROFILE),
        tags=list(STORED_TAGS),
        city="Busan",
        country="KR",
        language="ja",
        web_browser="Safari 18",
        web_browser_name="Safari",
        sessions_count=7,
    )
    EventFactory(
        channel=lenient, contact=contact, name="MarkerSeen", properties={"n": "marker-event-p9"}
    )
    return contact


def stored(contact: Contact) -> tuple[Any, ...]:
    row = Contact.objects.get(pk=contact.pk)
    return (row.profile, row.tags, row.city, row.web_browser, row.language)


def assert_no_marker(*responses: Any) -> None:
    for response in responses:
        text = response.content.decode()
        assert [m for m in MARKERS if m in text] == [], text


def attacker(channel: Channel) -> Sdk:
    """A stranger who read the plugin key off the website: no member hash."""
    return Sdk(channel.plugin_key, address="198.51.100.66")


# --- the boot --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unverified_boot_answers_nothing_of_the_member(
    lenient: Channel, member: Contact
) -> None:
    before = stored(member)

    response = attacker(lenient).boot(memberId=MEMBER_ID)

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "channelId": str(lenient.pk),
        "memberId": MEMBER_ID,
        "type": "member",
        "member": True,
        "profile": {},
        "masked": [],
    }
    assert (body["verified"], body["ignored"], body["veilId"]) == (False, [], None)
    assert_no_marker(response)
    assert stored(member) == before


@pytest.mark.django_db
def test_an_unverified_boot_changes_no_stored_value_or_tag_and_says_what_it_ignored(
    lenient: Channel, member: Contact
) -> None:
    before = stored(member)

    response = attacker(lenient).boot(
        memberId=MEMBER_ID,
        profile={
            "name": "Intruder",
            "email": "intruder@evil.example",
            "mobileNumber": "010-1111-2222",
            "description": None,
        },
        language="en",
        tags=["hacked"],
        device={"platform": "web", "userAgent": WINDOWS_CHROME},
    )

    assert response.status_code == 200
    body = response.json()
    assert [(i["key"], i["code"]) for i in body["ignored"]] == [
        ("profile.name", "stored_value_kept"),
        ("profile.email", "stored_value_kept"),
        ("profile.mobileNumber", "stored_value_kept"),
        ("profile.description", "removal_not_allowed"),
        ("tags", "tags_not_allowed"),
    ]
    assert all(UNVERIFIED in i["message"] for i in body["ignored"])
    assert body["user"]["profile"] == {}
    assert "name" not in body["user"] and "language" not in body["user"]
    assert_no_marker(response)
    assert "intruder@evil.example" not in str(body["ignored"])  # values are never echoed
    assert stored(member) == before
    assert not Tag.objects.filter(channel=lenient, name="hacked").exists()


@pytest.mark.django_db
def test_a_right_guess_is_answered_exactly_like_a_wrong_one(
    lenient: Channel, member: Contact
) -> None:
    right = attacker(lenient).boot(memberId=MEMBER_ID, profile={"email": STORED_PROFILE["email"]})
    wrong = attacker(lenient).boot(memberId=MEMBER_ID, profile={"email": "guess@leak.example"})

    assert (right.status_code, wrong.status_code) == (200, 200)
    first, second = right.json(), wrong.json()
    assert (first["user"], first["ignored"]) == (second["user"], second["ignored"])
    assert first["ignored"][0]["key"] == "profile.email"


@pytest.mark.django_db
def test_an_unverified_boot_fills_empty_keys_and_answers_only_those(
    lenient: Channel, member: Contact
) -> None:
    response = attacker(lenient).boot(
        memberId=MEMBER_ID,
        profile={"landlineNumber": "02-555-1234", "email": "other@shop.example"},
        profileOnce={"description": "something else"},
        page={"url": "https://shop.example/?utm_source=naver"},
    )

    body = response.json()
    assert body["user"]["profile"] == {
        "landlineNumber": "+8225551234",
        "utmSource": "naver",
        "lastUtmSource": "naver",
    }
    assert [i["key"] for i in body["ignored"]] == ["profile.email"]
    assert_no_marker(response)
    assert Contact.objects.get(pk=member.pk).profile == {
        **STORED_PROFILE,
        "landlineNumber": "+8225551234",
        "utmSource": "naver",
        "lastUtmSource": "naver",
    }


@pytest.mark.django_db
def test_an_unverified_boot_counts_the_visit_but_keeps_the_stored_device_and_place(
    lenient: Channel, member: Contact
) -> None:
    Contact.objects.filter(pk=member.pk).update(last_seen_at=None)

    attacker(lenient).boot(
        memberId=MEMBER_ID, device={"platform": "web", "userAgent": WINDOWS_CHROME}
    )

    contact = Contact.objects.get(pk=member.pk)
    assert (contact.web_browser, contact.web_browser_name) == ("Safari 18", "Safari")
    assert (contact.web_os_name, contact.city) == ("Windows", "Busan")  # empty: filled
    assert contact.sessions_count == 8 and contact.last_seen_at is not None


@pytest.mark.django_db
def test_an_unverified_boot_may_withdraw_consent_but_never_give_it(
    lenient: Channel, member: Contact
) -> None:
    sdk = attacker(lenient)
    first = sdk.boot(memberId=MEMBER_ID, unsubscribeEmail=True, unsubscribeTexting=False)

    assert first.json()["user"]["unsubscribeEmail"] is True
    assert "unsubscribeTexting" not in first.json()["user"]
    contact = Contact.objects.get(pk=member.pk)
    assert (contact.unsubscribe_email, contact.unsubscribe_texting) == (True, False)
    sdk.boot(memberId=MEMBER_ID, unsubscribeEmail=False)
    assert Contact.objects.get(pk=member.pk).unsubscribe_email is True


@pytest.mark.django_db
def test_an_unverified_boot_of_a_new_member_creates_it_without_tags(lenient: Channel) -> None:
    response = attacker(lenient).boot(
        memberId="m-new", profile={"name": "Kim", "email": "kim@shop.example"}, tags=["vip"]
    )

    body = response.json()
    assert body["user"]["profile"] == {"name": "Kim", "email": "kim@shop.example"}
    assert body["user"]["name"] == "Kim"
    assert [i["key"] for i in body["ignored"]] == ["tags"]
    created = Contact.objects.get(channel=lenient, member_id="m-new")
    assert (created.name, created.tags) == ("Kim", [])
    # Whoever boots with that member id next reads none of it.
    again = attacker(lenient).boot(memberId="m-new").json()["user"]
    assert again["profile"] == {} and "name" not in again


@pytest.mark.django_db
def test_an_unverified_boot_merges_no_device_contact_into_the_member(
    lenient: Channel, member: Contact
) -> None:
    from conversations.models import Conversation
    from conversations.services import conversation_start
    from crm.permissions import ALL_PERMISSIONS, Viewer

    sdk = attacker(lenient)
    device_id = sdk.boot(
        profile={"email": "device@shop.example"}, tags=["newsletter"], unsubscribeTexting=True
    ).json()["user"]["id"]
    sdk.call("events", {"name": "PageView", "property": {"path": "/"}})
    device = Contact.objects.get(pk=device_id)
    conversation_start(
        viewer=Viewer(channel=lenient, permissions=ALL_PERMISSIONS),
        contact=device,
        medium="chat",
        message_text="Hello!",
    )
    before = stored(member)

    response = sdk.boot(memberId=MEMBER_ID)

    assert response.json()["veilId"] == sdk.veil_id
    kept = Contact.objects.get(pk=device_id)
    assert (kept.member_id, kept.tags, kept.unsubscribe_texting) == (None, ["newsletter"], True)
    assert kept.profile == {"email": "device@shop.example"}
    assert list(Event.objects.filter(name="PageView").values_list("contact_id", flat=True)) == [
        int(device_id)
    ]
    assert list(Conversation.objects.values_list("contact_id", flat=True)) == [int(device_id)]
    assert stored(member) == before
    assert Contact.objects.get(pk=member.pk).unsubscribe_texting is False


# --- the session's calls ----------------------------------------------------------------------


@pytest.fixture
def unverified(lenient: Channel, member: Contact) -> Sdk:
    sdk = attacker(lenient)
    assert sdk.boot(memberId=MEMBER_ID).status_code == 200
    return sdk


@pytest.mark.django_db
def test_the_unverified_session_is_known_as_such(unverified: Sdk, lenient: Channel) -> None:
    verified = Sdk(lenient)
    verified.boot(memberId=MEMBER_ID)
    anonymous = Sdk(lenient)
    anonymous.boot()

    assert session_is_verified(token=unverified.token) is False
    assert session_is_verified(token=verified.token) is True
    assert session_is_verified(token=anonymous.token) is True
    with pytest.raises(AuthenticationFailed):
        session_is_verified(token="not-a-token")


@pytest.mark.django_db
def test_update_user_in_an_unverified_session_only_fills_empty_keys(
    unverified: Sdk, member: Contact
) -> None:
    before = stored(member)

    response = unverified.call(
        "user",
        {
            "profile": {"email": "intruder@evil.example", "mobileNumber": None},
            "profileOnce": {"name": "Lee"},
            "tags": [],
            "language": "en",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert [(i["key"], i["code"]) for i in body["ignored"]] == [
        ("profile.email", "stored_value_kept"),
        ("profile.mobileNumber", "removal_not_allowed"),
        ("tags", "tags_not_allowed"),
    ]
    assert body["user"]["profile"] == {}
    assert_no_marker(response)
    assert stored(member) == before

    filled = unverified.call("user", {"profile": {"landlineNumber": "031-123-4567"}})

    assert filled.json()["user"]["profile"] == {"landlineNumber": "+82311234567"}
    assert Contact.objects.get(pk=member.pk).profile["landlineNumber"] == "+82311234567"


@pytest.mark.django_db
def test_tags_in_an_unverified_session_change_nothing(unverified: Sdk, member: Contact) -> None:
    response = unverified.call("tags", {"add": ["gold"], "remove": ["withdrawn"]})

    assert response.status_code == 200
    assert [(i["key"], i["code"]) for i in response.json()["ignored"]] == [
        ("add", "tags_not_allowed"),
        ("remove", "tags_not_allowed"),
    ]
    assert "tags" not in response.json()["user"]
    assert_no_marker(response)
    assert Contact.objects.get(pk=member.pk).tags == STORED_TAGS
    assert not Tag.objects.filter(name="gold").exists()
    refused = unverified.call("tags", {"add": ["has space"]})
    assert refused.status_code == 400  # the request is still checked


@pytest.mark.django_db
def test_events_in_an_unverified_session_answer_only_the_event_sent(
    unverified: Sdk, member: Contact
) -> None:
    response = unverified.call("events", {"name": "CheckoutComplete", "property": {"total": 9}})

    assert response.status_code == 200
    body = response.json()
    event = Event.objects.get(name="CheckoutComplete")
    assert event.contact_id == member.pk
    assert (body["event"]["id"], body["event"]["property"]) == (str(event.pk), {"total": 9})
    assert body["user"]["profile"] == {}
    assert_no_marker(response)
    # The stored checkout time is a stored value: kept.
    assert Contact.objects.get(pk=member.pk).profile == STORED_PROFILE


@pytest.mark.django_db
def test_a_checkout_in_an_unverified_session_fills_an_empty_checkout_time(
    lenient: Channel,
) -> None:
    sdk = attacker(lenient)
    sdk.boot(memberId="m-2")

    sdk.call("events", {"name": "CheckoutComplete", "property": {}})

    assert "lastCheckoutCompletedAt" in Contact.objects.get(member_id="m-2").profile


@pytest.mark.django_db
def test_a_session_token_without_the_verified_mark_is_unverified_for_a_member(
    lenient: Channel, member: Contact
) -> None:
    sdk = attacker(lenient)
    sdk.token = signing.dumps({"ch": lenient.pk, "c": member.pk}, salt=SESSION_TOKEN_SALT)

    response = sdk.call("user", {"profile": {"email": "intruder@evil.example"}})

    assert response.json()["ignored"][0]["code"] == "stored_value_kept"
    assert_no_marker(response)
    assert stored(member)[0] == STORED_PROFILE


@pytest.mark.django_db
def test_a_session_token_without_the_verified_mark_is_a_devices_own_for_a_non_member(
    lenient: Channel,
) -> None:
    sdk = attacker(lenient)
    device = Contact.objects.get(pk=sdk.boot(tags=["vip"]).json()["user"]["id"])
    sdk.token = signing.dumps({"ch": lenient.pk, "c": device.pk}, salt=SESSION_TOKEN_SALT)

    response = sdk.call("tags", {"remove": ["vip"]})

    assert session_is_verified(token=sdk.token) is True
    assert (response.json()["ignored"], response.json()["user"]["tags"]) == ([], [])


# --- verified boots, and channels that require the hash -----------------------------------------


@pytest.mark.django_db
def test_a_verified_boot_reads_and_changes_everything_as_before(
    lenient: Channel, member: Contact
) -> None:
    sdk = Sdk(lenient)

    response = sdk.boot(memberId=MEMBER_ID, profile={"email": "new@shop.example"}, tags=["gold"])

    body = response.json()
    assert (body["verified"], body["ignored"]) == (True, [])
    user = body["user"]
    assert user["id"] == str(member.pk)
    assert user["profile"] == {**STORED_PROFILE, "email": "new@shop.example"}
    assert (user["name"], user["tags"], user["city"]) == (
        "Markername Zq",
        [*STORED_TAGS, "gold"],
        "Busan",
    )
    updated = sdk.call("user", {"profile": {"description": None}, "tags": ["vip"]}).json()
    assert updated["ignored"] == []
    assert "description" not in updated["user"]["profile"] and updated["user"]["tags"] == ["vip"]
    assert Contact.objects.get(pk=member.pk).tags == ["vip"]


@pytest.mark.django_db
def test_a_new_channel_requires_the_member_hash(db: None) -> None:
    channel = ChannelFactory()
    MemberFactory(channel=channel, member_id=MEMBER_ID, profile=dict(STORED_PROFILE))

    missing = attacker(channel).boot(memberId=MEMBER_ID, profile={"email": "x@evil.example"})
    wrong = attacker(channel).boot(memberId=MEMBER_ID, memberHash="00" * 32, tags=["x"])

    assert channel.require_member_hash is True
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["message"] == "This channel requires a memberHash with a memberId."
    assert_no_marker(missing, wrong)
    contact = Contact.objects.get(channel=channel, member_id=MEMBER_ID)
    assert (contact.profile, contact.tags, contact.sessions_count) == (STORED_PROFILE, [], 0)


@pytest.mark.django_db
def test_a_blocked_member_is_not_told_apart_by_an_unverified_boot(
    lenient: Channel, member: Contact
) -> None:
    other = MemberFactory(channel=lenient, member_id="m-13000", profile={})
    Contact.objects.filter(pk=member.pk).update(blocked=True, blocked_at=timezone.now())

    blocked = attacker(lenient).boot(memberId=MEMBER_ID).json()["user"]
    unblocked = attacker(lenient).boot(memberId=other.member_id).json()["user"]

    assert "blocked" not in blocked
    assert {k: v for k, v in blocked.items() if k != "memberId"} == {
        k: v for k, v in unblocked.items() if k != "memberId"
    }
