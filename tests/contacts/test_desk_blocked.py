"""The desk's blocked customers, /desk/<channel>/blocked/: who blocked, when, why, masked like
any list, unblock for a role with `block`, keyset pages; and in a real browser, the profile's
eye and block leading here."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from contacts.models import Contact
from crm.models import AuditAction, AuditEvent, Channel
from profile_schema.models import ProfileField
from tests.contacts.factories import MemberFactory
from tests.crm.factories import manager_client, manager_in

PHONE = "+821047295813"
EMAIL = "marker.kim@example.com"


def _url(channel: Channel) -> str:
    return f"/desk/{channel.pk}/blocked/"


def _blocked(
    channel: Channel, n: int = 0, reason: str = "Abusive calls", **profile: Any
) -> Contact:
    contact: Contact = MemberFactory(
        channel=channel,
        profile={"name": f"차단 {n:02d}", "mobileNumber": PHONE, "email": EMAIL, **profile},
        blocked=True,
        blocked_at=timezone.now() - timedelta(minutes=n),
        blocked_reason=reason,
    )
    return contact


@pytest.mark.django_db
def test_the_list_shows_who_when_and_why_masked_for_a_basic_manager(channel: Channel) -> None:
    owner = manager_in(channel, "owner", username="lead@shop.example")
    contact = _blocked(channel)
    Contact.objects.filter(pk=contact.pk).update(blocked_by=owner.user)
    MemberFactory(channel=channel, profile={"name": "Not blocked"})

    answer = manager_client(channel, "basic").get(_url(channel))

    html = answer.content.decode()
    assert answer.status_code == 200
    assert "차단 00" in html and "Abusive calls" in html and owner.user.get_username() in html
    assert "Not blocked" not in html and "1 blocked customer" in html
    assert PHONE not in html and EMAIL not in html and "010-****-5813" in html
    assert 'class="eye"' not in html and "/unblock/" not in html


@pytest.mark.django_db
def test_an_owner_gets_the_eye_and_unblocks_back_to_the_list(channel: Channel) -> None:
    contact = _blocked(channel)
    owner = manager_client(channel, "owner")
    html = owner.get(_url(channel)).content.decode()
    assert html.count('class="eye"') == 2 and PHONE not in html

    answer = owner.post(f"/desk/{channel.pk}/contacts/{contact.pk}/unblock/", {"back": "blocked"})

    assert answer.status_code == 302 and answer.headers["Location"] == _url(channel)
    contact.refresh_from_db()
    assert contact.blocked is False and contact.blocked_reason == ""
    assert AuditEvent.objects.filter(action=AuditAction.USER_UNBLOCK).count() == 1
    assert "No blocked customers" in owner.get(_url(channel)).content.decode()


@pytest.mark.django_db
def test_a_sensitive_name_is_masked_with_its_eye_outside_the_link(channel: Channel) -> None:
    contact = _blocked(channel)
    ProfileField.objects.filter(channel=channel, key="profile.name").update(sensitive=True)
    html = manager_client(channel, "owner").get(_url(channel)).content.decode()
    assert "차단 00" not in html and html.count('class="eye"') == 3
    assert (
        f'<a href="/desk/{channel.pk}/contacts/{contact.pk}/" class="open">Open profile</a>' in html
    )


@pytest.mark.django_db
def test_customer_and_manager_text_is_escaped(channel: Channel) -> None:
    _blocked(channel, name="<script>alert(1)</script>", reason='"><img src=x onerror=alert(2)>')
    html = manager_client(channel, "owner").get(_url(channel)).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_pages_are_keyset_pages_with_bounded_queries(
    channel: Channel, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        _blocked(channel, n)
    client = manager_client(channel, "owner")
    # Session, user, channel, role, schema, one page with its blockers, the bounded count
    # (EXPLAIN, then a capped COUNT under a statement timeout): none of them per row.
    # 14: the page's own, and the header's channel switcher (the manager's memberships).
    with django_assert_max_num_queries(14):
        first = client.get(_url(channel)).content.decode()
    assert "차단 00" in first and "차단 24" in first and "차단 25" not in first
    [cursor] = re.findall(r'href="\?after=([^"]+)"', first)
    second = client.get(_url(channel) + "?after=" + cursor).content.decode()
    assert "차단 25" in second and "차단 29" in second and "차단 24" not in second
    assert 'href="?after=' not in second


@pytest.mark.django_db
def test_another_channels_list_is_not_found_and_a_visitor_must_log_in(
    channel: Channel, other_channel: Channel
) -> None:
    _blocked(other_channel)
    assert manager_client(channel, "owner").get(_url(other_channel)).status_code == 404
    html = manager_client(channel, "owner").get(_url(channel)).content.decode()
    assert "차단 00" not in html
    anonymous = Client().get(_url(channel))
    assert anonymous.status_code == 302 and "/desk/login/" in anonymous.headers["Location"]


@pytest.mark.django_db(transaction=True)
def test_in_a_browser_an_owner_reveals_a_phone_blocks_and_sees_the_blocked_list(
    page: Any, live_server: Any, channel: Channel
) -> None:
    manager_in(channel, "owner", username="owner@shop.example")
    contact = MemberFactory(
        channel=channel, profile={"name": "김민서", "mobileNumber": PHONE, "email": EMAIL}
    )
    page.goto(f"{live_server.url}/desk/login/")
    page.fill("input[name=username]", "owner@shop.example")
    page.fill("input[name=password]", "a-good-password-1")
    page.click("button:has-text('Log in')")
    # A manager of one channel lands on its contact list.
    page.wait_for_url(re.compile(r".*/desk/(\d+/contacts/)?$"))
    page.goto(f"{live_server.url}/desk/{channel.pk}/contacts/{contact.pk}/")

    masked = page.locator('.masked[data-key="profile.mobileNumber"]')
    assert masked.inner_text().strip() == "010-****-5813"
    masked.locator("button.eye").click()
    page.wait_for_selector('.revealed[data-key="profile.mobileNumber"]')
    assert PHONE in page.inner_text('.revealed[data-key="profile.mobileNumber"]')

    page.click("summary:has-text('Block')")
    page.fill("input[name=reason]", "Repeated abusive calls")
    page.click("button:has-text('Block customer')")
    page.wait_for_selector("text=This customer is blocked.")
    page.click("a:has-text('Blocked customers')")
    row = page.locator("table.blocked-table tbody tr")
    assert row.count() == 1
    assert "Repeated abusive calls" in row.inner_text() and "김민서" in row.inner_text()
    assert PHONE not in page.content()
    row.locator('.masked[data-key="profile.email"] button.eye').click()
    page.wait_for_selector('.revealed[data-key="profile.email"]')
    assert EMAIL in row.inner_text()
