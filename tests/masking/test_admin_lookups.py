"""Every changelist holding customer data answers only its own filters: a lookup into the
profile, on a column of a sensitive key, along a relation, or on anything else the query
string names is refused (Django's DisallowedModelAdminLookup, a 400) and lists nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm.jobs.models import Job
from crm.models import Channel
from tests.crm.factories import UserFactory, manager_client
from tests.masking.admin_markers import MEMBER_ID, NAME, Marked, marked_channel

pytestmark = pytest.mark.django_db

PROFILE_LOOKUPS = [
    "profile__email__startswith",
    "profile__email",
    "profile__email__exact",
    "profile__email__iexact",
    "profile__email__contains",
    "profile__mobileNumber__startswith",
    "profile__mobileNumber__regex",
    "profile__name__icontains",
    "profile__secretCode__gt",
    "profile__has_key",
    "profile__contains",
    "profile__isnull",
    "profile",
]
COLUMN_LOOKUPS = [
    "name__startswith",
    "name",
    "member_id__startswith",
    "member_id__exact",
    "city__icontains",
    "web_os__startswith",
    "blocked_reason__contains",
    "tags__contains",
    "last_seen_at__gte",
]


def superuser_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def refused(client: Client, url: str, lookup: str, value: str) -> bool:
    response = client.get(url, {lookup: value})
    return response.status_code == 400 and NAME not in response.content.decode()


@pytest.fixture
def marked(channel: Channel) -> Marked:
    return marked_channel(channel)


@pytest.mark.parametrize("lookup", PROFILE_LOOKUPS)
def test_every_profile_lookup_from_a_basic_manager_is_refused(marked: Marked, lookup: str) -> None:
    url = reverse("admin:contacts_contact_changelist")

    assert refused(manager_client(marked.channel, "basic"), url, lookup, "zq9")


def test_a_hidden_email_cannot_be_guessed_a_character_at_a_time(channel: Channel) -> None:
    from tests.contacts.factories import ContactFactory

    ContactFactory(channel=channel, profile={"name": "Kim", "email": "customer02000@shop.example"})
    client = manager_client(channel, "basic")
    url = reverse("admin:contacts_contact_changelist")

    hit = client.get(url, {"profile__email__startswith": "customer0"})
    miss = client.get(url, {"profile__email__startswith": "zzzz"})

    assert (hit.status_code, miss.status_code) == (400, 400)
    assert hit.content == miss.content


@pytest.mark.parametrize("role", ["owner", "superuser"])
@pytest.mark.parametrize("lookup", ["profile__email__startswith", "profile__secretCode"])
def test_profile_lookups_are_refused_to_owners_and_superusers_too(
    marked: Marked, role: str, lookup: str
) -> None:
    client = superuser_client() if role == "superuser" else manager_client(marked.channel, role)

    assert refused(client, reverse("admin:contacts_contact_changelist"), lookup, "zq9")


@pytest.mark.parametrize("lookup", COLUMN_LOOKUPS)
def test_lookups_on_the_contacts_columns_are_refused(marked: Marked, lookup: str) -> None:
    url = reverse("admin:contacts_contact_changelist")

    assert refused(manager_client(marked.channel, "basic"), url, lookup, MEMBER_ID[:3])


@pytest.mark.parametrize(
    ("changelist", "lookup"),
    [
        ("contacts_event", "contact__profile__email__startswith"),
        ("contacts_event", "contact__name__startswith"),
        ("contacts_event", "contact__member_id"),
        ("contacts_event", "properties__note__contains"),
        ("contacts_segment", "filter__contains"),
        ("contacts_segment", "filter__and__0__values__0__startswith"),
        ("conversations_conversation", "contact__profile__mobileNumber__startswith"),
        ("conversations_conversation", "kakao_variables__name__startswith"),
        ("conversations_conversation", "messages__plain_text__contains"),
        ("conversations_outboxmessage", "payload__to__startswith"),
        ("conversations_outboxmessage", "message__plain_text__contains"),
        ("conversations_outboxmessage", "conversation__contact__name__startswith"),
        ("jobs_job", "params__name__startswith"),
        ("jobs_job", "requested_by_user__email__startswith"),
    ],
)
def test_lookups_into_customer_data_are_refused_on_every_changelist(
    marked: Marked, changelist: str, lookup: str
) -> None:
    url = reverse(f"admin:{changelist}_changelist")

    assert refused(manager_client(marked.channel, "basic"), url, lookup, "zq9")
    assert refused(manager_client(marked.channel, "owner"), url, lookup, "zq9")


@pytest.mark.parametrize(
    ("changelist", "params"),
    [
        ("contacts_contact", {"blocked__exact": "0"}),
        ("contacts_contact", {"type": "member"}),
        ("contacts_contact", {"q": MEMBER_ID}),
        ("contacts_event", {"q": "Checkout"}),
        ("contacts_segment", {"q": "Marked"}),
        (
            "conversations_conversation",
            {"medium__exact": "kakaoAlimtalk", "state__exact": "opened"},
        ),
        ("conversations_outboxmessage", {"status__exact": "pending"}),
        ("jobs_job", {"state__exact": "queued", "kind__exact": "tagDelete"}),
    ],
)
def test_the_offered_filters_and_search_still_work(
    marked: Marked, changelist: str, params: dict[str, str]
) -> None:
    client = manager_client(marked.channel, "basic")

    response = client.get(reverse(f"admin:{changelist}_changelist"), params)

    assert response.status_code == 200


def test_the_channel_and_segment_filters_still_work(marked: Marked) -> None:
    client = manager_client(marked.channel, "basic")
    url = reverse("admin:contacts_contact_changelist")

    for params in ({"channel": marked.channel.pk}, {"segment": marked.segment.pk}):
        assert client.get(url, params).status_code == 200


def test_the_jobs_list_after_starting_jobs_still_lists_them(channel: Channel) -> None:
    from crm.jobs.services import job_start

    job = job_start(channel=channel, kind="tagDelete", params={"name": "vip"}, requested_by=None)
    client = manager_client(channel, "basic")

    response = client.get(reverse("admin:jobs_job_changelist"), {"id__in": f"{job.pk}"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [Job.objects.get(pk=job.pk)]
