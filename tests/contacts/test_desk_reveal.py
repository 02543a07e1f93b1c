"""The desk's eye button: POST /desk/<channel>/contacts/<id>/reveal/ reveals one masked value
in place, audited, for a role with sensitive_view; 403, 404 and the login page otherwise."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.models import AuditAction, AuditEvent, Channel
from tests.contacts.factories import MemberFactory
from tests.crm.factories import manager_client

pytestmark = pytest.mark.django_db

PHONE = "+821047295813"


def _url(channel: Channel, contact_id: int) -> str:
    return f"/desk/{channel.pk}/contacts/{contact_id}/reveal/"


def test_an_owner_reveals_one_value_in_place_and_it_is_recorded(channel: Channel) -> None:
    contact = MemberFactory(channel=channel, profile={"mobileNumber": PHONE})
    answer = manager_client(channel, "owner").post(
        _url(channel, contact.pk), {"key": "profile.mobileNumber"}
    )
    assert answer.status_code == 200
    assert PHONE in answer.content.decode() and 'class="revealed"' in answer.content.decode()
    assert answer.headers["Cache-Control"].startswith("max-age=0")
    [record] = AuditEvent.objects.filter(action=AuditAction.REVEAL)
    assert (record.target_user_id, record.keys) == (contact.pk, ["profile.mobileNumber"])


def test_a_basic_manager_is_refused_and_nothing_is_recorded(channel: Channel) -> None:
    contact = MemberFactory(channel=channel, profile={"mobileNumber": PHONE})
    answer = manager_client(channel, "basic").post(
        _url(channel, contact.pk), {"key": "profile.mobileNumber"}
    )
    assert answer.status_code == 403 and PHONE not in answer.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_a_key_with_nothing_to_reveal_says_why(channel: Channel) -> None:
    contact = MemberFactory(channel=channel, profile={"name": "Kim"})
    answer = manager_client(channel, "owner").post(
        _url(channel, contact.pk), {"key": "profile.name"}
    )
    assert answer.status_code == 400 and "nothing to reveal" in answer.content.decode()


def test_another_channels_contact_and_channel_are_not_found(
    channel: Channel, other_channel: Channel
) -> None:
    theirs = MemberFactory(channel=other_channel, profile={"mobileNumber": PHONE})
    owner = manager_client(channel, "owner")
    assert owner.post(_url(channel, theirs.pk), {"key": "profile.mobileNumber"}).status_code == 404
    assert (
        owner.post(_url(other_channel, theirs.pk), {"key": "profile.mobileNumber"}).status_code
        == 404
    )


def test_only_a_logged_in_post_reveals(channel: Channel) -> None:
    contact = MemberFactory(channel=channel, profile={"mobileNumber": PHONE})
    assert manager_client(channel, "owner").get(_url(channel, contact.pk)).status_code == 405
    anonymous = Client().post(_url(channel, contact.pk), {"key": "profile.mobileNumber"})
    assert anonymous.status_code == 302 and "/desk/login/" in anonymous.headers["Location"]
