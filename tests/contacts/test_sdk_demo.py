"""The website snippet (boot.js) at work on the demo page, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from contacts.demo import DEMO_PLUGIN_KEY
from contacts.models import Contact, Event
from crm.provisioning import channel_provision


@pytest.fixture
def demo_channel(transactional_db: None) -> Any:
    return channel_provision(name="Demo shop", plan="paid", plugin_key=DEMO_PLUGIN_KEY)


@pytest.mark.django_db(transaction=True)
def test_the_snippet_boots_identifies_tracks_and_forgets(
    page: Any, live_server: Any, demo_channel: Any
) -> None:
    page.goto(f"{live_server.url}/sdk/demo/")

    page.click("#boot")
    page.wait_for_selector("#status:has-text('Booted as contact')")
    assert "(anonymous)" in page.inner_text("#status")
    veil_id = page.evaluate("window.localStorage.getItem('contactsCrmVeilId')")
    assert Contact.objects.get(channel=demo_channel).veil_id == veil_id

    page.fill("#member-id", "m-browser")
    page.fill("#name", "<b>김민서</b>")
    page.click("#boot")
    page.wait_for_selector("#status:has-text('(member)')")
    page.click("#track")
    page.wait_for_selector("#status:has-text('Event recorded')")

    member = Contact.objects.get(channel=demo_channel)
    assert (member.member_id, member.name) == ("m-browser", "<b>김민서</b>")
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
