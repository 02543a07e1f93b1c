"""The desk's log-in and home page, in a real browser against a live server."""

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
    page.click("button[type=submit]")


@pytest.mark.django_db(transaction=True)
def test_a_manager_logs_in_and_sees_their_channels_only(page: Any, live_server: Any) -> None:
    shop = channel_provision(name="Seoul Shop", plan="paid")
    other = channel_provision(name="Busan Shop")
    ContactFactory.create_batch(3, channel=shop)
    kim_joins(shop, "basic")

    log_in(page, live_server, "kim@shop.example")

    page.wait_for_selector("h1:has-text('Your channels')")
    row = page.locator("tbody tr")
    assert row.count() == 1
    assert row.locator("td").all_inner_texts() == ["Seoul Shop", "Paid", "basic", "3"]
    assert other.name not in page.content()


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

    page.wait_for_selector("tbody tr")
    assert page.locator("tbody td").first.inner_text() == shop.name
    assert page.evaluate("window.pwned") is None
