"""The desk's log-in and home page, in a real browser against a live server: a manager of one
channel lands on its contact list, a manager of several picks one."""

from __future__ import annotations

from typing import Any

import pytest

from crm import services
from crm.models import Channel
from crm.provisioning import channel_provision
from tests.contacts.factories import ContactFactory

PASSWORD = "a-good-password-1"


def kim_joins(channel: Channel, role: str) -> None:
    """kim@shop.example becomes a manager of CHANNEL with the role called ROLE."""
    services.manager_create(
        channel=channel,
        email="kim@shop.example",
        password=PASSWORD,
        role=services.role_get(channel=channel, name=role),
    )


def log_in(page: Any, live_server: Any, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/desk/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")


@pytest.mark.django_db(transaction=True)
def test_a_manager_of_one_channel_lands_on_its_contact_list(page: Any, live_server: Any) -> None:
    shop = channel_provision(name="Seoul Shop", plan="paid")
    other = channel_provision(name="Busan Shop")
    ContactFactory.create_batch(3, channel=shop)
    kim_joins(shop, "basic")

    log_in(page, live_server, "kim@shop.example")

    page.wait_for_selector(".contact-table")
    assert page.url.endswith(f"/desk/{shop.pk}/contacts/")
    assert page.locator(".contact-table tbody tr").count() == 3
    assert page.locator(".desk-channel").inner_text() == "Seoul Shop"
    assert page.locator(".desk-role").inner_text() == "basic"
    assert other.name not in page.content()


@pytest.mark.django_db(transaction=True)
def test_a_manager_of_two_channels_picks_one_and_switches(page: Any, live_server: Any) -> None:
    seoul = channel_provision(name="Seoul Shop", plan="paid")
    busan = channel_provision(name="Busan Shop")
    ContactFactory.create_batch(2, channel=busan)
    kim_joins(seoul, "basic")
    kim_joins(busan, "owner")

    log_in(page, live_server, "kim@shop.example")

    page.wait_for_selector("h1:has-text('Your channels')")
    rows = page.locator("tbody tr")
    assert rows.nth(0).locator("td").all_inner_texts() == ["Busan Shop", "Free", "owner", "2"]
    page.click("text=Seoul Shop")
    page.wait_for_selector(".contact-list__empty")
    page.click(".desk-switcher summary")
    page.click(".desk-switcher__list >> text=Busan Shop")
    page.wait_for_selector(".contact-table")
    assert page.url.endswith(f"/desk/{busan.pk}/contacts/")
    assert page.locator(".desk-role").inner_text() == "owner"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_refused_with_a_message(page: Any, live_server: Any) -> None:
    shop = channel_provision(name="Seoul Shop")
    kim_joins(shop, "basic")

    log_in(page, live_server, "kim@shop.example", "wrong-password")

    assert page.locator(".errors").inner_text() == (
        "Your email and password didn't match. Please try again."
    )
    assert "Your channels" not in page.content()


@pytest.mark.django_db(transaction=True)
def test_names_are_escaped_not_run(page: Any, live_server: Any) -> None:
    shop: Channel = channel_provision(name="<img src=x onerror=window.pwned=1>")
    kim_joins(shop, "owner")

    log_in(page, live_server, "kim@shop.example")

    page.wait_for_selector(".contact-list")
    assert page.locator(".desk-channel").inner_text() == shop.name
    assert page.evaluate("window.pwned") is None
