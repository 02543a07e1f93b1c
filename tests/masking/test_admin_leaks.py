"""A walk through every admin page (following its links) as a basic manager and as an owner
of a channel whose sensitive values are unique markers: no marker on any page, history,
delete confirmation or download; for the owner, a marker only in a reveal's answer, each
reveal leaving one audit record without the value."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm import services as crm_services
from crm.models import AuditEvent, Channel
from tests.crm.factories import manager_in
from tests.masking.admin_markers import (
    CITY,
    EMAIL,
    FILTER_MARKERS,
    MARKERS,
    MEMBER_ID,
    MOBILE,
    NAME,
    SECRET,
    Marked,
    admin_walk,
    leaked,
    marked_channel,
)

pytestmark = pytest.mark.django_db


def logged_in(channel: Channel, role: str) -> Client:
    client = Client()
    client.force_login(manager_in(channel, role).user)
    return client


def walked(client: Client, marked: Marked) -> dict[str, str]:
    """The pages of the walk, by url; every page the masking concerns was reached."""
    pages = dict(admin_walk(client))
    contact = marked.contact.pk
    for needed in (
        reverse("admin:contacts_contact_change", args=[contact]),
        reverse("admin:contacts_contact_history", args=[contact]),
        reverse("admin:contacts_event_changelist"),
        reverse("admin:conversations_conversation_change", args=[marked.conversation.pk]),
        reverse("admin:conversations_outboxmessage_changelist"),
        reverse("admin:contacts_segment_change", args=[marked.segment.pk]),
    ):
        assert needed in pages, needed
    return pages


def tags_changed(client: Client, marked: Marked) -> None:
    """A change through the admin, so that its history and recent actions have an entry."""
    url = reverse("admin:contacts_contact_change", args=[marked.contact.pk])
    assert client.post(url, {"tags": "vip"}).status_code == 302


@pytest.mark.parametrize("role", ["basic", "viewer"])
def test_a_manager_who_may_not_reveal_meets_no_marker_on_any_admin_page(
    channel: Channel, role: str
) -> None:
    marked = marked_channel(channel)
    if role == "viewer":  # sees contacts, changes nothing: every form is read-only
        crm_services.role_create(channel=channel, name=role, permissions=["contacts_view"])
    tags_changed(logged_in(channel, "owner"), marked)
    client = logged_in(channel, role)

    pages = walked(client, marked)

    found = {url: leaked(body, MARKERS + FILTER_MARKERS) for url, body in pages.items()}
    assert {url: markers for url, markers in found.items() if markers} == {}
    change = pages[reverse("admin:contacts_contact_change", args=[marked.contact.pk])]
    assert "zq9********@example.com" in change and "010-****-2345" in change
    assert 'name="reveal"' not in change  # no eye button without sensitive_view


def test_an_owner_meets_a_marker_only_in_a_reveals_answer(channel: Channel) -> None:
    marked = marked_channel(channel)
    client = logged_in(channel, "owner")
    tags_changed(client, marked)
    contact = marked.contact.pk

    pages = walked(client, marked)
    pages[reverse("admin:contacts_contact_delete", args=[contact])] = client.get(
        reverse("admin:contacts_contact_delete", args=[contact])
    ).content.decode()

    found = {url: leaked(body) for url, body in pages.items()}
    assert {url: markers for url, markers in found.items() if markers} == {}
    change = pages[reverse("admin:contacts_contact_change", args=[contact])]
    assert 'name="reveal" value="profile.email"' in change

    reveal = reverse("admin:contacts_contact_reveal", args=[contact])
    for key, value in [
        ("profile.email", EMAIL),
        ("profile.mobileNumber", MOBILE),
        ("profile.name", NAME),
        ("profile.secretCode", SECRET),
        ("memberId", MEMBER_ID),
        ("city", CITY),
    ]:
        before = AuditEvent.objects.count()
        answer = client.post(reveal, {"reveal": key})
        assert answer.status_code == 200
        assert value in answer.content.decode()
        record = AuditEvent.objects.order_by("-id").first()
        assert AuditEvent.objects.count() == before + 1
        assert record is not None
        assert (record.action, record.target_user_id, record.keys) == ("reveal", contact, [key])
        held = " ".join(str(getattr(record, f.attname)) for f in AuditEvent._meta.concrete_fields)
        assert leaked(held) == []

    # The log's own pages and its download hold no value either.
    audit = dict(admin_walk(client, reverse("admin:crm_auditevent_changelist")))
    assert {url: leaked(body) for url, body in audit.items() if leaked(body)} == {}
