"""The Django admin of contacts, tags and segments: changelists scoped to the viewer's channels,
roles decide, counts bounded, sorting and filters only as an index reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Contact
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.models import Channel
from tests.contacts.factories import ContactFactory
from tests.crm.factories import UserFactory, manager_client


@pytest.mark.django_db
def test_the_contacts_changelist_shows_only_the_managers_channel(
    channel: Channel, other_channel: Channel
) -> None:
    ContactFactory(channel=channel, name="Ours Kim")
    ContactFactory(channel=other_channel, name="Theirs Lee")

    response = manager_client(channel, "basic").get(reverse("admin:contacts_contact_changelist"))

    assert response.status_code == 200
    assert "Ours Kim" in response.content.decode()
    assert "Theirs Lee" not in response.content.decode()


@pytest.mark.django_db
def test_another_channels_contact_cannot_be_opened_or_changed(
    channel: Channel, other_channel: Channel
) -> None:
    theirs = ContactFactory(channel=other_channel, name="Theirs Lee", tags=["vip"])
    client = manager_client(channel, "owner")
    url = reverse("admin:contacts_contact_change", args=[theirs.pk])

    opened = client.get(url)
    posted = client.post(url, {"tags": "hacked", "unsubscribe_email": "on"})

    assert opened.status_code == 302 and "Theirs Lee" not in opened.content.decode()
    assert posted.status_code == 302
    theirs.refresh_from_db()
    assert (theirs.tags, theirs.unsubscribe_email) == (["vip"], False)


@pytest.mark.django_db
def test_the_channel_filter_offers_only_the_managers_channels(
    channel: Channel, other_channel: Channel
) -> None:
    response = manager_client(channel, "basic").get(reverse("admin:contacts_contact_changelist"))

    body = response.content.decode()
    assert f"?channel={channel.pk}" in body
    assert f"?channel={other_channel.pk}" not in body
    assert other_channel.name not in body


@pytest.mark.django_db
def test_a_foreign_channel_id_in_the_filter_matches_nothing(
    channel: Channel, other_channel: Channel
) -> None:
    ContactFactory(channel=other_channel, name="Theirs Lee")
    client = manager_client(channel, "basic")

    response = client.get(
        reverse("admin:contacts_contact_changelist"), {"channel": other_channel.pk}
    )

    assert "Theirs Lee" not in response.content.decode()


@pytest.mark.django_db
def test_a_manager_edits_tags_and_consent_through_the_rules(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, tags=[])
    client = manager_client(channel, "basic")
    url = reverse("admin:contacts_contact_change", args=[contact.pk])

    refused = client.post(url, {"tags": "vip, has space", "unsubscribe_email": "on"})
    contact.refresh_from_db()
    assert refused.status_code == 200
    assert "has space" in refused.content.decode()
    assert (contact.tags, contact.unsubscribe_email) == ([], False)

    accepted = client.post(url, {"tags": "VIP, gold", "unsubscribe_texting": "on"})
    contact.refresh_from_db()
    assert accepted.status_code == 302
    assert (contact.tags, contact.unsubscribe_email, contact.unsubscribe_texting) == (
        ["vip", "gold"],
        False,
        True,
    )


@pytest.mark.django_db
def test_built_in_fields_cannot_be_changed_in_the_admin(channel: Channel) -> None:
    contact = ContactFactory(channel=channel, name="Kim", member_id=None)
    client = manager_client(channel, "owner")

    client.post(
        reverse("admin:contacts_contact_change", args=[contact.pk]),
        {"tags": "", "name": "Changed", "member_id": "m-1", "sessions_count": "99"},
    )

    contact.refresh_from_db()
    assert (contact.name, contact.member_id, contact.sessions_count) == ("Kim", None, 0)


@pytest.mark.django_db
def test_deleting_a_contact_needs_contacts_delete(channel: Channel) -> None:
    contact = ContactFactory(channel=channel)
    url = reverse("admin:contacts_contact_delete", args=[contact.pk])

    assert manager_client(channel, "basic").post(url, {"post": "yes"}).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert manager_client(channel, "owner").post(url, {"post": "yes"}).status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


@pytest.mark.django_db
def test_a_superuser_sees_every_channel(channel: Channel, other_channel: Channel) -> None:
    ContactFactory(channel=channel, name="Ours Kim")
    ContactFactory(channel=other_channel, name="Theirs Lee")
    client = Client()
    client.force_login(UserFactory(is_superuser=True))

    body = client.get(reverse("admin:contacts_contact_changelist")).content.decode()

    assert "Ours Kim" in body and "Theirs Lee" in body


def changelist_queries(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:contacts_contact_changelist"))
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db
def test_the_contacts_changelist_runs_a_fixed_number_of_queries(channel: Channel) -> None:
    client = manager_client(channel, "basic")
    ContactFactory.create_batch(3, channel=channel)
    changelist_queries(client)  # the process reads the channel's field definitions once
    few = changelist_queries(client)
    ContactFactory.create_batch(60, channel=channel)

    many = changelist_queries(client)

    assert len(many) == len(few)
    # 14, the list's statement timeout (set_config in a savepoint here, BEGIN … COMMIT when
    # served), and the channel's schema version its masking policy is read under
    assert len(many) <= 18


@pytest.mark.django_db
def test_the_contacts_changelist_never_counts_without_a_bound(channel: Channel) -> None:
    ContactFactory.create_batch(3, channel=channel)

    queries = changelist_queries(manager_client(channel, "basic"))

    counts = [i for i, sql in enumerate(queries) if "COUNT(" in sql.upper()]
    assert counts, "the changelist shows a count"
    for index in counts:
        assert "statement_timeout" in queries[index - 1], queries[index]


@pytest.mark.django_db
def test_the_admin_search_box_runs_the_quick_search(channel: Channel) -> None:
    ContactFactory(
        channel=channel, name="김민서", profile={"name": "김민서", "mobileNumber": "+821012345678"}
    )
    ContactFactory(channel=channel, name="이민호")
    owner = manager_client(channel, "owner")
    basic = manager_client(channel, "basic")
    url = reverse("admin:contacts_contact_changelist")

    by_phone = owner.get(url, {"q": "010-1234-5678"}).content.decode()
    by_part = owner.get(url, {"q": "010-1234"}).content.decode()
    whole = basic.get(url, {"q": "010-1234-5678"}).content.decode()
    part = basic.get(url, {"q": "010-1234"}).content.decode()
    by_name = basic.get(url, {"q": "민서"}).content.decode()

    assert "김민서" in by_phone and "이민호" not in by_phone
    assert "김민서" in by_part  # a manager who may reveal the number finds it by a part
    assert "김민서" in whole and "이민호" not in whole  # the whole number finds them, masked
    assert "김민서" not in part  # never a part of a number masked for the manager
    assert "김민서" in by_name and "이민호" not in by_name


@pytest.mark.django_db
def test_a_segment_past_the_list_timeout_names_the_field_to_index_over_the_list_without_it(
    channel: Channel, settings: Any
) -> None:
    from unittest import mock

    from contacts.admin import contact_list as contacts_admin
    from contacts.services.segments import segment_create
    from crm.permissions import ALL_PERMISSIONS, Viewer
    from profile_schema.services import profile_field_create

    profile_field_create(channel=channel, key="points", name="Points", type="number")
    rich = segment_create(
        viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS),
        name="Rich",
        filter={"key": "profile.points", "operator": "gt", "values": [100_000]},
    )
    ContactFactory(channel=channel, name="PlainLee")
    client = manager_client(channel, "basic")
    url = reverse("admin:contacts_contact_changelist")
    settings.LIST_STATEMENT_TIMEOUT_MS = 20
    original = contacts_admin.contact_filtered

    def slow_filter(**kwargs: Any) -> Any:  # every row waits 50 ms: past the 20 ms limit
        return original(**kwargs).extra(where=["pg_sleep(0.05) IS NOT NULL"])

    with mock.patch.object(contacts_admin, "contact_filtered", slow_filter):
        answer = client.get(url, {"segment": rich.pk, "blocked__exact": "0"}, follow=True)

    assert answer.status_code == 200
    assert answer.redirect_chain == [(f"{url}?blocked__exact=0", 302)]
    body = answer.content.decode()
    assert "profile.points is not indexed" in body and "PlainLee" in body


@pytest.mark.django_db
def test_the_segment_filter_lists_the_segments_contacts(
    channel: Channel, other_channel: Channel
) -> None:
    from contacts.services.segments import segment_create
    from crm.permissions import ALL_PERMISSIONS, Viewer

    vip = segment_create(
        viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS),
        name="VIP",
        filter={"key": "tags", "operator": "hasAny", "values": ["vip"]},
    )
    theirs = segment_create(
        viewer=Viewer(channel=other_channel, permissions=ALL_PERMISSIONS),
        name="Secret plan",
        filter={},
    )
    ContactFactory(channel=channel, name="VipKim", tags=["vip"])
    ContactFactory(channel=channel, name="PlainLee")
    client = manager_client(channel, "basic")
    url = reverse("admin:contacts_contact_changelist")

    body = client.get(url, {"segment": vip.pk}).content.decode()
    foreign = client.get(url, {"segment": theirs.pk}).content.decode()

    assert "VipKim" in body and "PlainLee" not in body
    assert "Secret plan" not in body
    assert "VipKim" not in foreign and "PlainLee" not in foreign


@pytest.mark.django_db
def test_the_type_filter_offers_the_fixed_choices_without_scanning(channel: Channel) -> None:
    ContactFactory(channel=channel, name="LeadKim")
    ContactFactory(channel=channel, name="MemberLee", member_id="m-1")
    client = manager_client(channel, "basic")
    url = reverse("admin:contacts_contact_changelist")

    queries = changelist_queries(client)
    members = client.get(url, {"type": "member"}).content.decode()

    assert not [sql for sql in queries if "DISTINCT" in sql.upper()]
    assert "MemberLee" in members and "LeadKim" not in members


@pytest.mark.django_db
def test_deleting_a_tag_in_the_admin_removes_it_from_its_contacts(channel: Channel) -> None:
    from contacts.models import Tag
    from contacts.services.tags import contact_tags_set

    contact = ContactFactory(channel=channel)
    contact_tags_set(contact=contact, tags=["vip", "gold"])
    tag = Tag.objects.get(channel=channel, name="vip")

    response = manager_client(channel, "owner").post(
        reverse("admin:contacts_tag_delete", args=[tag.pk]), {"post": "yes"}
    )

    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:jobs_job_change", args=[job.pk])
    assert messages_of(response) == [
        f"Deleting vip from every contact: job #{job.pk}; the progress and outcome show here."
    ]
    assert job_execute(job_id=job.pk) == "succeeded"
    contact.refresh_from_db()
    assert contact.tags == ["gold"]
    assert list(Tag.objects.filter(channel=channel).values_list("name", flat=True)) == ["gold"]


@pytest.mark.django_db
def test_the_delete_action_confirms_then_starts_a_job_for_each_tag(channel: Channel) -> None:
    from contacts.models import Tag
    from contacts.services.tags import contact_tags_set

    contact = ContactFactory(channel=channel)
    contact_tags_set(contact=contact, tags=["vip", "gold", "new"])
    picked = list(Tag.objects.filter(name__in=["vip", "gold"]).values_list("pk", flat=True))
    client = manager_client(channel, "owner")
    url = reverse("admin:contacts_tag_changelist")
    form = {"action": "delete_selected", "_selected_action": picked}

    confirm = client.post(url, form)
    response = client.post(url, {**form, "post": "yes"})

    jobs = list(Job.objects.order_by("id"))
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    assert response.status_code == 302
    assert response["Location"] == (
        f"{reverse('admin:jobs_job_changelist')}?id__in={jobs[0].pk},{jobs[1].pk}"
    )
    assert [job.params["name"] for job in jobs] == ["gold", "vip"]
    for job in jobs:
        assert job_execute(job_id=job.pk) == "succeeded"
    contact.refresh_from_db()
    assert contact.tags == ["new"]
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_deleting_a_tag_needs_general_settings_in_the_admin_too(channel: Channel) -> None:
    from contacts.models import Tag
    from contacts.services.tags import contact_tags_set

    contact = ContactFactory(channel=channel)
    contact_tags_set(contact=contact, tags=["vip"])
    tag = Tag.objects.get(channel=channel, name="vip")

    response = manager_client(channel, "basic").post(
        reverse("admin:contacts_tag_delete", args=[tag.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert not Job.objects.exists()
    assert Tag.objects.filter(pk=tag.pk).exists()


@pytest.mark.django_db
def test_deleting_a_tag_being_deleted_is_refused_in_the_admin(channel: Channel) -> None:
    from contacts.models import Tag
    from contacts.services.tags import contact_tags_set

    contact_tags_set(contact=ContactFactory(channel=channel), tags=["vip"])
    tag = Tag.objects.get(channel=channel, name="vip")
    client = manager_client(channel, "owner")
    url = reverse("admin:contacts_tag_delete", args=[tag.pk])
    client.post(url, {"post": "yes"})
    job = Job.objects.get()

    response = client.post(url, {"post": "yes"})

    assert (response.status_code, response["Location"]) == (302, url)
    assert messages_of(response)[-1] == (
        f"vip: The tag vip is busy with job {job.pk} (tag delete, queued): try again once it "
        "has finished, or cancel it."
    )
    assert Job.objects.count() == 1


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def changelist_order(client: Client, **params: str) -> str:
    response = client.get(reverse("admin:contacts_contact_changelist"), params)
    assert response.status_code == 200
    sql = str(response.context["cl"].result_list.query)
    return sql.split(" ORDER BY ", 1)[1].split(" LIMIT ")[0]


@pytest.mark.django_db
def test_the_contacts_changelist_sorts_only_as_an_index_reads(channel: Channel) -> None:
    ContactFactory.create_batch(3, channel=channel)
    client = manager_client(channel)
    response = client.get(reverse("admin:contacts_contact_changelist"))
    columns = list(response.context["cl"].list_display)
    seen = str(columns.index("last_seen_at_listed"))
    kind = str(columns.index("type"))

    assert changelist_order(client) == '"contacts_contact"."id" DESC'
    assert changelist_order(client, o=f"-{seen}") == (
        '"contacts_contact"."last_seen_at" DESC NULLS LAST, "contacts_contact"."id" DESC'
    )
    assert changelist_order(client, o=seen) == (
        '"contacts_contact"."last_seen_at" ASC NULLS FIRST, "contacts_contact"."id" ASC'
    )
    # A column no index serves is not offered, and asked for in the URL it is not sorted by.
    assert f"o={kind}" not in response.content.decode()
    assert changelist_order(client, o=kind) == '"contacts_contact"."id" DESC'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[" * 5000 + "]" * 5000, "Filter: arrays and objects nest at most 64 levels deep."),
        ('{"key": "name", "operator": "eq", "values": ["a\\u0000"]}', "holds a NUL character"),
        ('{"key": "sessionsCount", "operator": "gt", "values": [NaN]}', "NaN and Infinity"),
    ],
)
def test_a_segment_filter_the_api_would_refuse_is_a_form_error_in_the_admin(
    channel: Channel, text: str, error: str
) -> None:
    from contacts.models import Segment

    client = manager_client(channel, "owner")

    response = client.post(
        reverse("admin:contacts_segment_add"),
        {"channel": channel.pk, "name": "Deep", "filter": text},
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Segment.objects.exists()
