"""POST /sdk/v1/boot: identification, member hash, visits, first and last touch, merges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, ContactActivity, ContactType, Event
from contacts.representation import user_object
from contacts.services.boot import member_hash
from crm.models import Channel
from masking.policy import unmasked
from tests.contacts.factories import MemberFactory
from tests.contacts.sdk_client import Sdk

CHECK_SECRET = "4629de5def93d6a2abea6afa9bd5476d9c6cbc04223f9a2f7e517b535dde3e25"
CHECK_HASH = "99427c7bba36a6902c5fd6383f2fb0214d19b81023296b4bd6b9e024836afea2"


def row_version(contact_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM contacts_contact WHERE id = %s", [contact_id])
        return str(cursor.fetchone()[0])


def test_member_hash_matches_the_published_check_value() -> None:
    assert member_hash(secret=CHECK_SECRET, member_id="lucas") == CHECK_HASH


@pytest.mark.django_db
def test_a_first_boot_creates_an_anonymous_contact_and_issues_a_veil_id(channel: Channel) -> None:
    sdk = Sdk(channel)

    response = sdk.boot(language="ko")

    assert response.status_code == 200
    body = response.json()
    user = body["user"]
    assert (user["type"], user["member"], user["sessionsCount"], user["language"]) == (
        "anonymous",
        False,
        1,
        "ko",
    )
    assert (user["web"]["browserName"], user["web"]["os"], user["web"]["device"]) == (
        "Chrome",
        "Windows 10",
        "Desktop",
    )
    contact = Contact.objects.get(pk=user["id"])
    assert contact.veil_id == body["veilId"] and len(body["veilId"]) == 32
    assert (response["x-ratelimit-limit"], response["x-ratelimit-remaining"]) == ("600", "599")


@pytest.mark.django_db
def test_a_returning_device_finds_its_contact(channel: Channel) -> None:
    sdk = Sdk(channel)
    first = sdk.boot().json()["user"]["id"]

    again = sdk.boot().json()["user"]

    assert again["id"] == first
    assert Contact.objects.filter(channel=channel).count() == 1


@pytest.mark.django_db
def test_a_member_boot_creates_the_member_with_a_normalised_profile(channel: Channel) -> None:
    response = Sdk(channel).boot(
        memberId="m-42",
        profile={"name": "김민서", "email": "Minseo@Example.COM", "mobileNumber": "010-1234-5678"},
        tags=["VIP"],
    )

    user = response.json()["user"]
    assert (user["type"], user["memberId"], user["name"], user["tags"]) == (
        "member",
        "m-42",
        "김민서",
        ["vip"],
    )
    assert user["profile"] == {
        "name": "김민서",
        "email": "Minseo@example.com",
        "mobileNumber": "+821012345678",
    }
    assert response.json()["veilId"] is None


@pytest.mark.django_db
def test_an_invalid_boot_is_refused_with_every_problem_and_changes_nothing(
    channel: Channel,
) -> None:
    response = Sdk(channel).boot(
        memberId="m-1",
        profile={"mobileNumber": "070-1234-5678", "nickname": "x", "email": "not-an-email"},
        tags=["has space"],
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert sorted(e["key"] for e in body["errors"]) == [
        "profile.email",
        "profile.mobileNumber",
        "profile.nickname",
        "tags",
    ]
    codes = {e["key"]: e["code"] for e in body["errors"]}
    assert codes["profile.mobileNumber"] == "not_mobile_number"
    assert codes["profile.nickname"] == "unknown_key"
    assert "landlineNumber" in next(
        e["message"] for e in body["errors"] if e["key"] == "profile.mobileNumber"
    )
    assert not Contact.objects.filter(channel=channel).exists()


@pytest.mark.django_db
def test_an_unknown_plugin_key_is_401(channel: Channel) -> None:
    response = Sdk("no-such-key").boot()

    assert response.status_code == 401
    assert response.json() == {
        "type": "authentication_failed",
        "message": "Unknown pluginKey.",
        "errors": [],
    }


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_a_validation_error(channel: Channel) -> None:
    response = Sdk(channel).client.post(
        "/sdk/v1/boot", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["key"] == "body"


@pytest.mark.django_db
def test_shape_errors_name_the_field_path(channel: Channel) -> None:
    response = Sdk(channel).boot(veilId="x", device={"platform": "tv"})

    assert response.status_code == 400
    assert sorted(e["key"] for e in response.json()["errors"]) == ["device.platform", "veilId"]


class TestMemberHash:
    @pytest.fixture
    def strict(self, channel: Channel) -> Channel:
        channel.member_hash_secret = CHECK_SECRET
        channel.require_member_hash = True
        channel.save()
        return channel

    @pytest.mark.django_db
    def test_the_right_hash_is_accepted(self, strict: Channel) -> None:
        response = Sdk(strict.plugin_key).boot(memberId="lucas", memberHash=CHECK_HASH)

        assert response.status_code == 200
        assert response.json()["user"]["memberId"] == "lucas"

    @pytest.mark.django_db
    @pytest.mark.parametrize("given", [None, "", "00" * 32, CHECK_HASH[:-1] + "0"])
    def test_a_missing_or_wrong_hash_is_401_and_changes_nothing(
        self, strict: Channel, given: str | None
    ) -> None:
        MemberFactory(channel=strict, member_id="lucas", profile={"name": "Lucas"})
        fields = {"memberId": "lucas", "profile": {"name": "Intruder"}}
        if given is not None:
            fields["memberHash"] = given

        response = Sdk(strict.plugin_key).boot(**fields)

        assert response.status_code == 401
        assert response.json()["type"] == "authentication_failed"
        lucas = Contact.objects.get(channel=strict, member_id="lucas")
        assert (lucas.name, lucas.sessions_count) == ("Lucas", 0)

    @pytest.mark.django_db
    def test_a_wrong_hash_is_refused_even_when_not_required(self, channel: Channel) -> None:
        channel.require_member_hash = False
        channel.save()

        response = Sdk(channel).boot(memberId="lucas", memberHash="ab" * 32)

        assert response.status_code == 401
        assert not Contact.objects.filter(channel=channel).exists()


@pytest.mark.django_db
def test_utm_first_touch_is_written_once_and_last_touch_follows_the_latest_visit(
    channel: Channel,
) -> None:
    sdk = Sdk(channel)
    sdk.boot(
        page={
            "url": "https://shop.example/?utm_source=naver&utm_campaign=spring",
            "referrer": "https://search.naver.com/q",
        }
    )
    sdk.boot(
        page={
            "url": "https://shop.example/?utm_source=google&utm_medium=cpc",
            "referrer": "https://www.google.com/",
        }
    )

    third = sdk.boot(page={"url": "https://shop.example/cart", "referrer": "https://shop.example/"})

    assert third.json()["user"]["profile"] == {
        "utmSource": "naver",
        "utmCampaign": "spring",
        "utmMedium": "cpc",
        "referrer": "https://search.naver.com/q",
        "lastUtmSource": "google",
        "lastUtmCampaign": "spring",
        "lastUtmMedium": "cpc",
    }


@pytest.mark.django_db
def test_sessions_count_a_new_session_after_30_idle_minutes(channel: Channel) -> None:
    sdk = Sdk(channel)
    contact_id = sdk.boot().json()["user"]["id"]
    Contact.objects.filter(pk=contact_id).update(
        last_seen_at=Contact.objects.get(pk=contact_id).last_seen_at - timedelta(minutes=10),
        web_last_seen_at=Contact.objects.get(pk=contact_id).web_last_seen_at
        - timedelta(minutes=10),
    )
    assert sdk.boot().json()["user"]["sessionsCount"] == 1
    contact = Contact.objects.get(pk=contact_id)
    Contact.objects.filter(pk=contact_id).update(
        last_seen_at=contact.last_seen_at - timedelta(minutes=31),
        web_last_seen_at=contact.web_last_seen_at - timedelta(minutes=31),
    )

    user = sdk.boot().json()["user"]

    assert (user["sessionsCount"], user["web"]["sessionsCount"]) == (2, 2)
    assert user["mobile"]["sessionsCount"] == 0


@pytest.mark.django_db
def test_web_and_app_sessions_are_counted_apart_and_in_total(channel: Channel) -> None:
    sdk = Sdk(channel)
    sdk.boot(memberId="m-1")

    user = sdk.boot(
        memberId="m-1",
        device={
            "platform": "mobile",
            "appName": "Shop",
            "appVersion": "3.2.0",
            "os": "iOS 18",
            "osName": "iOS",
            "device": "iPhone 16",
            "hasPushToken": True,
        },
    ).json()["user"]

    assert (
        user["sessionsCount"],
        user["web"]["sessionsCount"],
        user["mobile"]["sessionsCount"],
    ) == (2, 1, 1)
    assert user["mobile"]["appName"] == "Shop" and user["hasPushToken"] is True
    assert user["web"]["browserName"] == "Chrome"


@pytest.mark.django_db
def test_a_repeated_boot_with_nothing_new_does_not_rewrite_the_row(channel: Channel) -> None:
    sdk = Sdk(channel)
    user = sdk.boot(memberId="m-1", profile={"name": "Kim"}).json()["user"]
    version = row_version(int(user["id"]))

    again = sdk.boot(memberId="m-1", profile={"name": "Kim"}).json()["user"]

    assert row_version(int(user["id"])) == version
    assert again["updatedAt"] == user["updatedAt"]

    changed = sdk.boot(memberId="m-1", profile={"name": "Kim Minseo"}).json()["user"]
    assert row_version(int(user["id"])) != version
    assert changed["updatedAt"] > user["updatedAt"]


@pytest.mark.django_db
def test_opt_outs_can_be_turned_on_by_a_boot_but_never_off(channel: Channel) -> None:
    sdk = Sdk(channel)
    sdk.boot(memberId="m-1", unsubscribeEmail=True)

    user = sdk.boot(memberId="m-1", unsubscribeEmail=False, unsubscribeTexting=False).json()["user"]

    assert (user["unsubscribeEmail"], user["unsubscribeTexting"]) == (True, False)


@pytest.mark.django_db
def test_language_is_set_at_creation_only(channel: Channel) -> None:
    sdk = Sdk(channel)
    sdk.boot(memberId="m-1", language="ko")

    assert sdk.boot(memberId="m-1", language="en").json()["user"]["language"] == "ko"


@pytest.mark.django_db
def test_profile_once_fills_only_empty_keys(channel: Channel) -> None:
    sdk = Sdk(channel)
    sdk.boot(memberId="m-1", profile={"name": "Kim"})

    user = sdk.boot(
        memberId="m-1", profileOnce={"name": "Lee", "email": "lee@shop.example"}
    ).json()["user"]

    assert user["profile"] == {"name": "Kim", "email": "lee@shop.example"}


@pytest.mark.django_db
def test_a_blocked_contacts_boot_succeeds_and_says_blocked(channel: Channel) -> None:
    from django.utils import timezone

    MemberFactory(channel=channel, member_id="m-1", blocked=True, blocked_at=timezone.now())

    response = Sdk(channel).boot(memberId="m-1")

    assert response.status_code == 200
    assert response.json()["user"]["blocked"] is True


@pytest.mark.django_db
def test_a_device_becomes_a_member_and_is_merged_into_it(channel: Channel) -> None:
    sdk = Sdk(channel)
    anonymous = sdk.boot(
        profile={"email": "kim@shop.example", "description": "asked about sizes"},
        tags=["newsletter"],
        page={"url": "https://shop.example/?utm_source=naver"},
    ).json()["user"]
    sdk.call("events", {"name": "PageView", "property": {"path": "/"}})
    existing = MemberFactory(
        channel=channel,
        member_id="m-9",
        tags=["vip"],
        profile={"name": "Kim", "email": "minseo@shop.example", "utmSource": "google"},
        sessions_count=4,
    )

    member = sdk.boot(memberId="m-9").json()["user"]

    assert member["id"] == str(existing.pk)
    assert member["profile"] == {
        "name": "Kim",
        "email": "minseo@shop.example",  # member data wins over the lead's
        "description": "asked about sizes",  # filled beats missing
        "utmSource": "naver",  # first touch: the device's visit came before the member row
        "lastUtmSource": "naver",
    }
    assert member["tags"] == ["vip", "newsletter"]
    assert member["sessionsCount"] == 4 + 1 + 1
    assert not Contact.objects.filter(pk=anonymous["id"]).exists()
    assert list(Event.objects.filter(channel=channel).values_list("contact_id", flat=True)) == [
        existing.pk
    ]
    assert Contact.objects.filter(channel=channel).count() == 1


@pytest.mark.django_db
def test_a_new_member_takes_over_the_devices_first_touch(channel: Channel) -> None:
    sdk = Sdk(channel)
    sdk.boot(page={"url": "https://shop.example/?utm_source=naver"})

    member = sdk.boot(memberId="m-new", page={"url": "https://shop.example/?utm_source=kakao"})

    user = member.json()["user"]
    assert user["type"] == ContactType.MEMBER
    assert (user["profile"]["utmSource"], user["profile"]["lastUtmSource"]) == ("naver", "kakao")
    assert Contact.objects.filter(channel=channel).count() == 1


@pytest.mark.django_db
def test_members_are_never_found_by_a_device_id(channel: Channel) -> None:
    sdk = Sdk(channel)
    sdk.boot()
    member = sdk.boot(memberId="m-1", profile={"email": "kim@shop.example"}).json()["user"]

    stranger = Sdk(channel)
    found = stranger.boot(veilId=sdk.veil_id).json()["user"]

    assert found["id"] != member["id"]
    assert found["profile"] == {}


@pytest.mark.django_db
def test_a_boot_that_changes_data_counts_the_contact_as_active_this_month(channel: Channel) -> None:
    user = Sdk(channel).boot(memberId="m-1").json()["user"]

    months = list(
        ContactActivity.objects.filter(contact_id=user["id"]).values_list("month", flat=True)
    )

    assert len(months) == 1 and months[0].day == 1


@pytest.mark.django_db
def test_a_profile_that_would_pass_256_keys_is_refused_whole(channel: Channel) -> None:
    from profile_schema.services import profile_field_create

    for n in range(260):
        profile_field_create(channel=channel, key=f"k{n}", name=f"K{n}", type="number")
    MemberFactory(channel=channel, member_id="m-1", profile={f"k{n}": n for n in range(250)})

    response = Sdk(channel).boot(memberId="m-1", profile={f"k{n}": n for n in range(250, 260)})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"key": "profile", "code": "too_many_keys", "message": "A profile holds at most 256 keys."}
    ]
    assert len(Contact.objects.get(channel=channel, member_id="m-1").profile) == 250


@pytest.mark.django_db
def test_a_merge_keeps_the_leads_conversations_and_activity(channel: Channel) -> None:
    from conversations.models import Conversation
    from conversations.services import conversation_start
    from crm.permissions import ALL_PERMISSIONS, Viewer

    sdk = Sdk(channel)
    lead_id = sdk.boot(profile={"email": "kim@shop.example"}).json()["user"]["id"]
    lead = Contact.objects.get(pk=lead_id)
    started = conversation_start(
        viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS),
        contact=lead,
        medium="chat",
        message_text="Hello!",
    )
    assert Conversation.objects.filter(contact=lead).count() == 1

    member = sdk.boot(memberId="m-1").json()["user"]

    assert member["hasChat"] is True
    assert list(Conversation.objects.values_list("contact_id", flat=True)) == [int(member["id"])]
    assert Conversation.objects.get().pk == started.conversation.pk
    assert ContactActivity.objects.filter(contact_id=member["id"]).count() == 1


@pytest.mark.django_db
def test_a_boot_is_the_rate_limit_the_schema_lock_and_one_upsert(channel: Channel) -> None:
    MemberFactory(channel=channel, member_id="m-1")
    sdk = Sdk(channel)
    sdk.boot(memberId="m-2", profile={"name": "Warm-up"})  # channel and fields now cached

    with CaptureQueriesContext(connection) as returning:
        response = sdk.boot(memberId="m-1", veilId="device-0001", profile={"name": "Kim"})

    statements = [q["sql"] for q in returning.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert response.status_code == 200
    assert response.json()["user"]["profile"]["name"] == "Kim"
    assert len(statements) == 3
    assert "crm_ratelimitwindow" in statements[0]
    assert statements[1].startswith("SELECT profile_schema_read_lock(")
    assert statements[2].startswith("WITH t AS (INSERT INTO contacts_contact")
    assert ContactActivity.objects.filter(contact__member_id="m-1").count() == 1


@pytest.mark.django_db
def test_the_answer_is_the_row_as_stored(channel: Channel) -> None:
    sdk = Sdk(channel)

    answered = sdk.boot(
        memberId="m-3", profile={"name": "Lee", "mobileNumber": "010-1234-5678"}, tags=["vip"]
    ).json()["user"]
    again = sdk.boot(memberId="m-3").json()["user"]  # within a minute: nothing is written

    stored = Contact.objects.get(channel=channel, member_id="m-3")
    assert answered == again == user_object(stored, policy=unmasked(stored.channel_id))
    assert answered["profile"]["mobileNumber"] == "+821012345678"


@pytest.mark.django_db
def test_the_boot_statements_are_prepared_once_they_repeat(channel: Channel) -> None:
    sdk = Sdk(channel)
    for number in range(7):
        assert sdk.boot(memberId=f"m-{number}", profile={"name": "Kim"}).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any(s.startswith("SELECT profile_schema_read_lock(") for s in prepared)
    assert any(s.startswith("WITH t AS (INSERT INTO contacts_contact") for s in prepared)


@pytest.mark.django_db
def test_a_boot_for_a_channel_deleted_a_moment_ago_is_401(channel: Channel) -> None:
    sdk = Sdk(channel)
    assert sdk.boot(memberId="m-1").status_code == 200  # the process now trusts the channel

    Channel.objects.filter(pk=channel.pk).delete()
    response = sdk.boot(memberId="m-1")

    assert (response.status_code, response.json()["message"]) == (401, "Unknown pluginKey.")


@pytest.mark.django_db
def test_the_sdk_answers_json_whatever_the_accept_header_says(channel: Channel) -> None:
    sdk = Sdk(channel)
    body = {
        "pluginKey": channel.plugin_key,
        "memberId": "m-1",
        "memberHash": member_hash(secret=channel.member_hash_secret, member_id="m-1"),
    }

    response = sdk.post("boot", body, accept="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["user"]["memberId"] == "m-1"
