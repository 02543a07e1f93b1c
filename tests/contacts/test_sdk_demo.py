"""The website snippet (boot.js) at work on the demo page: the page as served, and in a real
browser."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from contacts.demo import DEMO_MEMBER_HASH_SECRET, DEMO_PLUGIN_KEY
from contacts.models import Contact, Event
from contacts.sdk.views import DEMO_VISITOR_COOKIE
from contacts.services.boot import member_hash
from crm.models import Channel
from crm.provisioning import channel_provision
from tests.contacts.sdk_client import Sdk


@pytest.fixture
def demo_channel(transactional_db: None) -> Any:
    return channel_provision(
        name="Demo shop",
        plan="paid",
        plugin_key=DEMO_PLUGIN_KEY,
        member_hash_secret=DEMO_MEMBER_HASH_SECRET,
    )


def signed_member(html: str) -> dict[str, str]:
    found = re.search(r'<script id="signed-member" type="application/json">(.*?)</script>', html)
    assert found is not None
    return dict(json.loads(found.group(1)))


@pytest.mark.django_db
def test_the_demo_page_signs_its_own_visitor_on_the_server_and_keeps_the_secret(
    demo_channel: Channel,
) -> None:
    browser = Client()

    first = browser.get("/sdk/demo/")
    again = browser.get("/sdk/demo/")

    html = first.content.decode()
    signed = signed_member(html)
    assert re.fullmatch(r"visitor-[0-9a-f]{10}", signed["memberId"])
    assert signed["memberHash"] == member_hash(
        secret=DEMO_MEMBER_HASH_SECRET, member_id=signed["memberId"]
    )
    assert DEMO_MEMBER_HASH_SECRET not in html
    assert signed_member(again.content.decode()) == signed  # the same visitor, signed in
    assert demo_channel.require_member_hash is True
    assert Sdk(DEMO_PLUGIN_KEY).boot(**signed).json()["verified"] is True
    assert Sdk(DEMO_PLUGIN_KEY).boot(memberId="m-12000").status_code == 401


@pytest.mark.django_db
def test_the_demo_page_signs_no_member_id_a_visitor_writes_into_its_cookie(
    demo_channel: Channel,
) -> None:
    browser = Client()
    browser.cookies[DEMO_VISITOR_COOKIE] = "m-12000"

    signed = signed_member(browser.get("/sdk/demo/").content.decode())

    assert signed["memberId"].startswith("visitor-")
    assert "m-12000" not in json.dumps(signed)


@pytest.mark.django_db(transaction=True)
def test_the_snippet_boots_identifies_tracks_and_forgets(
    page: Any, live_server: Any, demo_channel: Any
) -> None:
    page.goto(f"{live_server.url}/sdk/demo/")
    signed_in = page.inner_text("#signed-in")

    page.fill("#member-id", "")
    page.click("#boot")
    page.wait_for_selector("#status:has-text('Booted as contact')")
    assert "(anonymous)" in page.inner_text("#status")
    veil_id = page.evaluate("window.localStorage.getItem('contactsCrmVeilId')")
    assert Contact.objects.get(channel=demo_channel).veil_id == veil_id

    page.fill("#member-id", "m-someone-else")
    page.click("#boot")
    page.wait_for_selector("#status:has-text('Refused: This channel requires a memberHash')")

    page.fill("#member-id", signed_in)
    page.fill("#name", "<b>김민서</b>")
    page.click("#boot")
    page.wait_for_selector("#status:has-text('(member)')")
    page.click("#track")
    page.wait_for_selector("#status:has-text('Event recorded')")

    member = Contact.objects.get(channel=demo_channel)
    assert (member.member_id, member.name) == (signed_in, "<b>김민서</b>")
    assert Event.objects.get(contact=member).name == "CheckoutComplete"
    assert page.locator("#output b").count() == 0  # customer text is shown, never parsed

    page.click("#shutdown")
    assert page.evaluate("window.localStorage.getItem('contactsCrmVeilId')") is None
    page.fill("#member-id", "")
    page.fill("#name", "")
    page.click("#boot")
    page.wait_for_selector("#status:has-text('(anonymous)')")
    assert Contact.objects.filter(channel=demo_channel).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_script_is_served_as_javascript(live_server: Any, demo_channel: Any) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{live_server.url}/sdk/v1/boot.js") as response:  # noqa: S310
        assert response.headers["Content-Type"].startswith("application/javascript")
        assert "window.ContactsCRM" in response.read().decode()
