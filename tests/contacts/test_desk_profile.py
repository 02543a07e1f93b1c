"""The desk's customer profile, /desk/<channel>/contacts/<id>/: what each role sees (masked
values, the eye, the block form), escaping, the events timeline, block and unblock."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from contacts.models import Contact
from crm.models import AuditAction, AuditEvent, Channel
from profile_schema.models import ProfileField
from tests.contacts.factories import EventFactory, MemberFactory
from tests.crm.factories import manager_client

pytestmark = pytest.mark.django_db

PHONE = "+821047295813"
EMAIL = "marker.kim@example.com"
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{ 7|add:1 }}'


def _url(channel: Channel, contact_id: int) -> str:
    return f"/desk/{channel.pk}/contacts/{contact_id}/"


def _marked(channel: Channel, **profile: Any) -> Contact:
    contact: Contact = MemberFactory(
        channel=channel,
        member_id="m-10293",
        profile={"name": "김민서", "mobileNumber": PHONE, "email": EMAIL, **profile},
        tags=["vip", "gold"],
    )
    return contact


def test_a_basic_manager_sees_the_profile_masked_with_no_eye_and_no_block(
    channel: Channel,
) -> None:
    contact = _marked(channel, description="Prefers calls after 6pm")
    EventFactory(contact=contact, name="CheckoutComplete", properties={"total": 54000})

    answer = manager_client(channel, "basic").get(_url(channel, contact.pk))

    html = answer.content.decode()
    assert answer.status_code == 200
    assert "김민서" in html and "m-10293" in html and "vip" in html and "gold" in html
    assert PHONE not in html and EMAIL not in html and "47295813" not in html
    assert "+82104****5813" in html or "010-****-5813" in html or "****" in html
    assert 'class="eye"' not in html and "/block/" not in html
    assert "Prefers calls after 6pm" in html and "CheckoutComplete" in html
    assert "Mobile number" in html and "Customer information" in html


def test_an_owner_sees_the_same_masks_with_the_eye_and_the_block_form(channel: Channel) -> None:
    contact = _marked(channel)

    html = manager_client(channel, "owner").get(_url(channel, contact.pk)).content.decode()

    assert PHONE not in html and EMAIL not in html
    assert html.count('class="eye"') == 2  # mobile and email
    assert f"/desk/{channel.pk}/contacts/{contact.pk}/reveal/" in html
    assert "profile.mobileNumber" in html and 'name="reason"' in html


def test_the_channels_selection_and_order_of_fields_is_followed(channel: Channel) -> None:
    contact = _marked(channel, utmSource="newsletter")
    ProfileField.objects.filter(channel=channel, key="profile.email").update(shown_in_profile=False)
    ProfileField.objects.filter(channel=channel, key="profile.utmSource").update(order=0)
    ProfileField.objects.filter(channel=channel, key="profile.mobileNumber").update(order=1)

    html = manager_client(channel, "owner").get(_url(channel, contact.pk)).content.decode()

    assert ">Email</dt>" not in html
    assert html.index(">UTM source</dt>") < html.index(">Mobile number</dt>")


def test_event_properties_are_free_text_masked_for_every_manager(channel: Channel) -> None:
    contact = _marked(channel)
    EventFactory(
        contact=contact,
        name="FormSubmit",
        properties={"note": f"call me at {PHONE} or {EMAIL}", "raw": "010-4729-5813"},
    )
    for role in ("basic", "owner"):
        html = manager_client(channel, role).get(_url(channel, contact.pk)).content.decode()
        assert PHONE not in html and EMAIL not in html and "4729-5813" not in html
        assert "FormSubmit" in html


def test_customer_text_is_shown_as_text_never_markup(channel: Channel) -> None:
    contact = MemberFactory(
        channel=channel,
        profile={"name": XSS, "description": XSS, "utmSource": XSS},
        tags=["<b>tag</b>"],
    )
    EventFactory(contact=contact, name="<i>Evil</i>", properties={"<u>k</u>": XSS})
    html = manager_client(channel, "owner").get(_url(channel, contact.pk)).content.decode()

    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<b>tag</b>" not in html and "<i>Evil</i>" not in html and "<u>k</u>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7|add:1 }}" in html and ">8<" not in html


def test_events_are_newest_first_and_paged(channel: Channel) -> None:
    from datetime import timedelta

    from django.utils import timezone

    contact = _marked(channel)
    start = timezone.now() - timedelta(days=1)
    for n in range(25):
        EventFactory(contact=contact, name=f"Ev{n:02d}", created_at=start + timedelta(minutes=n))
    client = manager_client(channel, "basic")

    html = client.get(_url(channel, contact.pk)).content.decode()
    assert html.index("Ev24") < html.index("Ev23") and "Ev05" in html and "Ev04" not in html
    [cursor] = __import__("re").findall(r'hx-get="\?events=([^"]+)"', html)
    more = client.get(
        _url(channel, contact.pk) + "?events=" + cursor, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Ev04" in more and "Ev00" in more and "Ev05" not in more and "<html" not in more


def test_the_page_reads_a_bounded_number_of_queries(
    channel: Channel, django_assert_max_num_queries: Any
) -> None:
    contact = _marked(channel)
    for n in range(30):
        EventFactory(contact=contact, name=f"Ev{n}")
    client = manager_client(channel, "owner")
    with django_assert_max_num_queries(10):
        assert client.get(_url(channel, contact.pk)).status_code == 200


def test_another_channels_contact_is_not_found_and_a_visitor_must_log_in(
    channel: Channel, other_channel: Channel
) -> None:
    theirs = _marked(other_channel)
    owner = manager_client(channel, "owner")
    assert owner.get(_url(channel, theirs.pk)).status_code == 404
    assert owner.get(_url(other_channel, theirs.pk)).status_code == 404
    assert owner.post(_url(channel, theirs.pk) + "block/", {"reason": "x"}).status_code == 404
    anonymous = Client().get(_url(channel, theirs.pk))
    assert anonymous.status_code == 302 and "/desk/login/" in anonymous.headers["Location"]


def test_an_owner_blocks_with_a_reason_and_unblocks(channel: Channel) -> None:
    contact = _marked(channel)
    owner = manager_client(channel, "owner")

    answer = owner.post(_url(channel, contact.pk) + "block/", {"reason": "<b>Abusive</b> calls"})

    assert answer.status_code == 302 and answer.headers["Location"] == _url(channel, contact.pk)
    contact.refresh_from_db()
    assert (contact.blocked, contact.blocked_reason) == (True, "<b>Abusive</b> calls")
    html = owner.get(_url(channel, contact.pk)).content.decode()
    assert "This customer is blocked." in html and "&lt;b&gt;Abusive&lt;/b&gt; calls" in html
    assert contact.blocked_by is not None and contact.blocked_by.get_username() in html

    answer = owner.post(_url(channel, contact.pk) + "unblock/")

    contact.refresh_from_db()
    assert answer.status_code == 302 and contact.blocked is False
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.USER_BLOCK, AuditAction.USER_UNBLOCK]


def test_a_block_without_a_reason_is_refused_with_the_message(channel: Channel) -> None:
    contact = _marked(channel)
    answer = manager_client(channel, "owner").post(_url(channel, contact.pk) + "block/", {})
    assert answer.status_code == 400 and "This field is required." in answer.content.decode()
    contact.refresh_from_db()
    assert contact.blocked is False


def test_a_role_without_block_is_refused_and_nothing_changes(channel: Channel) -> None:
    contact = _marked(channel)
    basic = manager_client(channel, "basic")
    assert basic.post(_url(channel, contact.pk) + "block/", {"reason": "x"}).status_code == 403
    contact.refresh_from_db()
    assert contact.blocked is False
    manager_client(channel, "owner").post(_url(channel, contact.pk) + "block/", {"reason": "x"})
    assert basic.post(_url(channel, contact.pk) + "unblock/").status_code == 403
    contact.refresh_from_db()
    assert contact.blocked is True
    assert AuditEvent.objects.filter(action=AuditAction.USER_UNBLOCK).count() == 0
    assert basic.get(_url(channel, contact.pk) + "block/").status_code == 405


def test_a_sensitive_name_memo_and_member_id_never_appear_even_in_the_title(
    channel: Channel,
) -> None:
    contact = _marked(channel, description="Marker memo 7Q9Z")
    ProfileField.objects.filter(
        channel=channel, key__in=["profile.name", "profile.description", "memberId"]
    ).update(sensitive=True)
    EventFactory(contact=contact, name="Note", properties={"text": "김민서 said Marker memo 7Q9Z"})

    for role in ("basic", "owner"):
        html = manager_client(channel, role).get(_url(channel, contact.pk)).content.decode()
        assert "김민서" not in html and "Marker memo 7Q9Z" not in html and "m-10293" not in html
        assert PHONE not in html and EMAIL not in html
    owner_html = manager_client(channel, "owner").get(_url(channel, contact.pk)).content.decode()
    assert 'data-key="profile.description"' in owner_html and 'data-key="name"' in owner_html
