"""The profile field admin: writes through the services, `general_settings` to write; a type
change and a delete start their job and show its page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from contacts.models import Contact
from crm.jobs.models import Job
from crm.jobs.runner import job_execute
from crm.models import Channel
from profile_schema.models import FieldType, ProfileField
from tests.contacts.factories import ContactFactory
from tests.crm.factories import manager_in
from tests.profile_schema.factories import field_in


def client_for(channel: Channel, role: str = "owner") -> Client:
    client = Client()
    client.force_login(manager_in(channel, role).user)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:profile_schema_profilefield_{name}", args=args)


def add_form(channel: Channel, **changes: Any) -> dict[str, Any]:
    data = {
        "channel": channel.pk,
        "key": "shoeSize",
        "name": "Shoe size",
        "type": "number",
        "masking": "full",
        "shown_in_profile": "on",
    }
    return {**data, **changes}


def change_form(field: ProfileField, **changes: Any) -> dict[str, Any]:
    data = {
        "name": field.name,
        "masking": field.masking,
        "order": field.order,
        "shown_in_profile": "on" if field.shown_in_profile else "",
        "sensitive": "on" if field.sensitive else "",
    }
    return {key: value for key, value in {**data, **changes}.items() if value != ""}


def snapshot(channel: Channel) -> list[tuple[Any, ...]]:
    return list(
        ProfileField.objects.filter(channel=channel)
        .order_by("key")
        .values_list("key", "name", "type", "sensitive", "masking", "shown_in_profile", "order")
    )


def profiles(channel: Channel) -> list[dict[str, Any]]:
    rows = Contact.objects.filter(channel=channel).order_by("id")
    return list(rows.values_list("profile", flat=True))


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def the_job(response: Any) -> Job:
    """The job whose admin page RESPONSE redirects to, run to its end."""
    job = Job.objects.get()
    assert response["Location"] == reverse("admin:jobs_job_change", args=[job.pk])
    assert job_execute(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_an_admin_adds_a_field_through_the_service(channel: Channel) -> None:
    response = client_for(channel).post(url("add"), add_form(channel, sensitive="on"))

    field = ProfileField.objects.get(channel=channel, key="profile.shoeSize")
    assert response.status_code == 302
    assert (field.name, field.type, field.sensitive, field.built_in) == (
        "Shoe size",
        "number",
        True,
        False,
    )
    assert field.order == ProfileField.objects.filter(channel=channel).count() - 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"key": "Shoe_size"}, "a data key is camelCase letters and digits"),
        ({"key": "profile.email", "type": "string"}, "profile.email is already defined"),
        ({"key": "tags"}, "is the name of a built-in field"),
        ({"masking": "partial"}, "partial masking is for strings"),
    ],
)
def test_a_refused_add_shows_the_services_reason_and_stores_nothing(
    channel: Channel, changes: dict[str, str], error: str
) -> None:
    before = snapshot(channel)

    response = client_for(channel).post(url("add"), add_form(channel, **changes))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert snapshot(channel) == before


@pytest.mark.django_db
def test_a_field_cannot_be_added_to_another_channel(
    channel: Channel, other_channel: Channel
) -> None:
    before = snapshot(other_channel)

    response = client_for(channel).post(url("add"), add_form(other_channel))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert snapshot(other_channel) == before


@pytest.mark.django_db
def test_an_admin_changes_name_and_flags_but_not_key_or_type(channel: Channel) -> None:
    field = field_in(channel, "grade")

    response = client_for(channel).post(
        url("change", field.pk),
        change_form(field, name="Grade", sensitive="on", masking="partial", order=2)
        | {"key": "profile.hacked", "type": "number"},
    )

    field.refresh_from_db()
    assert response.status_code == 302
    assert (field.key, field.type, field.name, field.sensitive, field.masking, field.order) == (
        "profile.grade",
        "string",
        "Grade",
        True,
        "partial",
        2,
    )


@pytest.mark.django_db
def test_a_built_in_field_keeps_its_name_in_the_admin(channel: Channel) -> None:
    field = ProfileField.objects.get(channel=channel, key="lastSeenAt")

    response = client_for(channel).post(
        url("change", field.pk), change_form(field, name="Renamed", sensitive="on")
    )

    field.refresh_from_db()
    assert response.status_code == 302
    assert (field.name, field.sensitive) == ("Last seen", True)


@pytest.mark.django_db
def test_a_refused_change_shows_the_reason_and_changes_nothing(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    before = snapshot(channel)

    response = client_for(channel).post(
        url("change", field.pk), change_form(field, masking="partial", name="Years")
    )

    assert response.status_code == 200
    assert "A number field masks full; partial masking is for strings." in (
        response.content.decode()
    )
    assert snapshot(channel) == before


@pytest.mark.django_db
def test_the_change_page_links_to_the_type_change_for_profile_fields_only(
    channel: Channel,
) -> None:
    field = field_in(channel, "grade")
    built_in = ProfileField.objects.get(channel=channel, key="tags")
    client = client_for(channel)

    assert url("change_type", field.pk) in client.get(url("change", field.pk)).content.decode()
    assert "change-type" not in client.get(url("change", built_in.pk)).content.decode()


@pytest.mark.django_db
def test_a_blocked_type_change_shows_the_count_and_changes_nothing(channel: Channel) -> None:
    field = field_in(channel, "zip")
    for value in ["06236", "abc", "12"]:
        ContactFactory(channel=channel, profile={"zip": value})
    before = profiles(channel)
    client = client_for(channel)

    page = client.get(url("change_type", field.pk))
    response = client.post(url("change_type", field.pk), {"type": "number"})

    field.refresh_from_db()
    assert "3 contacts hold a value." in " ".join(page.content.decode().split())
    assert response.status_code == 200
    assert "2 contacts hold a value of profile.zip that cannot become Number." in (
        response.content.decode()
    )
    assert (field.type, profiles(channel)) == ("string", before)


@pytest.mark.django_db
def test_an_allowed_type_change_converts_the_values(channel: Channel) -> None:
    field = field_in(channel, "points")
    for value in ["12", "-3.5"]:
        ContactFactory(channel=channel, profile={"points": value})

    response = client_for(channel).post(url("change_type", field.pk), {"type": "number"})

    field.refresh_from_db()
    assert response.status_code == 302
    assert field.type == "number"  # the definition switched first
    job = the_job(response)
    assert messages_of(response) == [
        f"profile.points is now Number; its values convert: job #{job.pk}; the progress and "
        "outcome show here."
    ]
    assert (job.kind, job.state, job.done, job.total) == ("typeChange", "succeeded", 2, 2)
    assert [p["points"] for p in profiles(channel)] == [12, -3.5]
    page = client_for(channel).get(response["Location"]).content.decode()
    assert "2 / 2" in page


@pytest.mark.django_db
def test_the_delete_page_shows_how_many_contacts_hold_a_value(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(3, channel=channel, profile={"grade": "gold"})

    page = client_for(channel).get(url("delete", field.pk))

    body = " ".join(page.content.decode().split())
    assert page.status_code == 200
    assert "<strong>3</strong> contacts hold a value of profile.grade." in body
    assert 'name="confirm_count" value="3"' in body


@pytest.mark.django_db
def test_a_stale_delete_confirmation_is_refused_and_nothing_is_removed(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "gold"})
    client = client_for(channel)
    client.get(url("delete", field.pk))
    ContactFactory(channel=channel, profile={"grade": "tin"})
    before = profiles(channel)

    response = client.post(url("delete", field.pk), {"post": "yes", "confirm_count": "2"})

    assert response.status_code == 302
    assert response["Location"] == url("delete", field.pk)
    assert messages_of(response) == [
        "3 contacts now hold a value of profile.grade, not 2 as confirmed; review the new count "
        "and confirm again."
    ]
    assert ProfileField.objects.filter(pk=field.pk).exists()
    assert profiles(channel) == before


@pytest.mark.django_db
def test_a_confirmed_delete_removes_the_field_and_its_values(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory.create_batch(2, channel=channel, profile={"grade": "gold", "name": "Kim"})

    response = client_for(channel).post(
        url("delete", field.pk), {"post": "yes", "confirm_count": "2"}
    )

    assert response.status_code == 302
    assert ProfileField.objects.filter(pk=field.pk).exists()  # until its job has run
    job = the_job(response)
    assert messages_of(response) == [
        f"Deleting profile.grade and its value in 2 contacts: job #{job.pk}; the progress and "
        "outcome show here."
    ]
    assert (job.kind, job.state, job.done, job.total) == ("fieldDelete", "succeeded", 2, 2)
    assert not ProfileField.objects.filter(pk=field.pk).exists()
    assert profiles(channel) == [{"name": "Kim"}, {"name": "Kim"}]


@pytest.mark.django_db
def test_a_delete_or_type_change_while_a_job_works_on_the_field_is_refused(
    channel: Channel,
) -> None:
    field = field_in(channel, "grade")
    ContactFactory(channel=channel, profile={"grade": "gold"})
    client = client_for(channel)
    client.post(url("delete", field.pk), {"post": "yes", "confirm_count": "1"})
    job = Job.objects.get()
    busy = (
        f"profile.grade is busy with job {job.pk} (field delete, queued): try again once it has "
        "finished, or cancel it."
    )

    deleted = client.post(url("delete", field.pk), {"post": "yes", "confirm_count": "1"})
    retyped = client.post(url("change_type", field.pk), {"type": "list"})

    assert (deleted.status_code, deleted["Location"]) == (302, url("delete", field.pk))
    assert messages_of(deleted)[-1] == busy
    assert retyped.status_code == 200
    assert busy in retyped.content.decode()
    assert Job.objects.count() == 1
    field.refresh_from_db()
    assert (field.type, profiles(channel)) == ("string", [{"grade": "gold"}])


@pytest.mark.django_db
def test_a_built_in_field_cannot_be_deleted_and_bulk_delete_is_not_offered(
    channel: Channel,
) -> None:
    built_in = ProfileField.objects.get(channel=channel, key="tags")
    client = client_for(channel)

    response = client.post(url("delete", built_in.pk), {"post": "yes", "confirm_count": "0"})
    changelist = client.get(url("changelist"))

    assert response.status_code == 403
    assert ProfileField.objects.filter(pk=built_in.pk).exists()
    assert "delete_selected" not in changelist.content.decode()


@pytest.mark.django_db
def test_a_basic_manager_sees_the_fields_but_cannot_write(channel: Channel) -> None:
    field = field_in(channel, "grade")
    ContactFactory(channel=channel, profile={"grade": "gold"})
    before, values = snapshot(channel), profiles(channel)
    basic = client_for(channel, "basic")

    listed = basic.get(url("changelist"))
    responses = [
        basic.get(url("add")),
        basic.post(url("add"), add_form(channel)),
        basic.post(url("change", field.pk), change_form(field, name="Hacked", sensitive="on")),
        basic.get(url("change_type", field.pk)),
        basic.post(url("change_type", field.pk), {"type": "list"}),
        basic.get(url("delete", field.pk)),
        basic.post(url("delete", field.pk), {"post": "yes", "confirm_count": "1"}),
    ]

    assert listed.status_code == 200 and "profile.grade" in listed.content.decode()
    assert [response.status_code for response in responses] == [403] * 7
    assert (snapshot(channel), profiles(channel)) == (before, values)


@pytest.mark.django_db
def test_another_channels_fields_are_invisible_and_untouchable(
    channel: Channel, other_channel: Channel
) -> None:
    theirs = field_in(other_channel, "secretScore", FieldType.NUMBER)
    client = client_for(channel)

    listed = client.get(url("changelist"))
    type_change = client.post(url("change_type", theirs.pk), {"type": "string"})
    delete = client.post(url("delete", theirs.pk), {"post": "yes", "confirm_count": "0"})

    theirs.refresh_from_db()
    assert "profile.secretScore" not in listed.content.decode()
    assert (type_change.status_code, delete.status_code) == (403, 302)
    assert theirs.type == "number"


@pytest.mark.django_db
def test_the_sensitive_and_masking_toggles_need_general_settings(channel: Channel) -> None:
    from crm import services as crm_services
    from crm.permissions import ALL_PERMISSIONS, Permission

    everything_else = sorted(ALL_PERMISSIONS - {Permission.GENERAL_SETTINGS})
    crm_services.role_create(channel=channel, name="all but settings", permissions=everything_else)
    email = ProfileField.objects.get(channel=channel, key="profile.email")
    city = ProfileField.objects.get(channel=channel, key="city")
    before = snapshot(channel)
    client = client_for(channel, "all but settings")

    responses = [
        client.post(url("change", email.pk), change_form(email, sensitive="", masking="full")),
        client.post(url("change", city.pk), change_form(city, sensitive="on", masking="full")),
        client.post(url("add"), add_form(channel, sensitive="on", masking="partial")),
    ]
    form = client.get(url("change", email.pk))

    assert [response.status_code for response in responses] == [403] * 3
    assert snapshot(channel) == before
    assert form.status_code == 200 and form.context["has_change_permission"] is False
    owner = client_for(channel, "owner")
    allowed = owner.post(url("change", city.pk), change_form(city, sensitive="on"))
    city.refresh_from_db()
    assert allowed.status_code == 302 and city.sensitive is True
