"""The desk's home page: the manager's channels, their role there, and how many contacts each
holds where the role may see them; a manager of one channel goes straight to its contact list
(the browser tests are in test_desk_home.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import services
from crm.models import Channel
from tests.contacts.factories import ContactFactory
from tests.crm.factories import manager_in


@pytest.mark.django_db
def test_the_home_page_counts_contacts_only_where_the_role_may_see_them(
    channel: Channel, other_channel: Channel
) -> None:
    ContactFactory.create_batch(3, channel=channel)
    ContactFactory.create_batch(2, channel=other_channel)
    user = manager_in(channel, "basic").user
    silent = services.role_create(channel=other_channel, name="silent", permissions=[])
    services.manager_create(channel=other_channel, email=user.username, password="", role=silent)
    client = Client()
    client.force_login(user)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("desk:home"))

    assert response.status_code == 200
    rows = [
        (row["channel"].name, row["role"].name, row["contacts"] and row["contacts"].value)
        for row in response.context["rows"]
    ]
    assert rows == [("Shop A", "basic", 3), ("Shop B", "silent", None)]
    # The roles come with the memberships: no permission query per channel.
    memberships = [q["sql"] for q in captured.captured_queries if "crm_membership" in q["sql"]]
    assert len(memberships) == 1


@pytest.mark.django_db
def test_a_manager_of_one_channel_goes_straight_to_its_contacts(channel: Channel) -> None:
    client = Client()
    client.force_login(manager_in(channel, "basic").user)

    response = client.get(reverse("desk:home"))

    assert response.status_code == 302
    assert response.headers["Location"] == f"/desk/{channel.pk}/contacts/"


@pytest.mark.django_db
def test_a_manager_whose_only_role_cannot_see_contacts_stays_home(channel: Channel) -> None:
    silent = services.role_create(channel=channel, name="silent", permissions=[])
    user = manager_in(channel, "basic").user
    user.memberships.update(role=silent)
    client = Client()
    client.force_login(user)

    response = client.get(reverse("desk:home"))

    assert response.status_code == 200
    assert 'href="/desk/' + str(channel.pk) + '/contacts/"' not in response.content.decode()


@pytest.mark.django_db
def test_the_header_switches_language_and_names_the_role(channel: Channel) -> None:
    client = Client()
    client.force_login(manager_in(channel, "owner", first_name="Jiwoo", last_name="Park").user)

    html = client.get(f"/desk/{channel.pk}/contacts/").content.decode()

    assert '<form class="desk-lang" method="post" action="/i18n/setlang/">' in html
    assert 'name="language" value="ko"' in html and 'name="language" value="en"' in html
    assert f'name="next" value="/desk/{channel.pk}/contacts/"' in html
    assert 'Jiwoo Park<span class="desk-role">owner</span>' in html
    assert f'href="/desk/{channel.pk}/blocked/"' in html and 'href="/admin/"' in html
    answer = client.post("/i18n/setlang/", {"language": "ko", "next": "/desk/"})
    assert answer.status_code == 302 and answer.cookies["django_language"].value == "ko"
