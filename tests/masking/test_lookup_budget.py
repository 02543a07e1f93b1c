"""Whole-value look-ups on masked keys count against a budget (masking.lookups): a pasted list
works, trying every value a partial mask leaves open does not."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from crm.models import Channel
from tests.api_clients import credential_client
from tests.contacts.factories import MemberFactory
from tests.crm.factories import manager_client

pytestmark = pytest.mark.django_db

PHONE = "+821047295813"


@pytest.fixture(autouse=True)
def _small_budget(settings: Any) -> None:
    settings.MASKED_LOOKUP_LIMIT = "5/86400"
    settings.RATE_LIMIT_REDIS_URL = ""


def _search(client: Client, values: list[str]) -> Any:
    body = {"filter": {"key": "profile.mobileNumber", "operator": "in", "values": values}}
    return client.post("/open/v5/users/search", body, content_type="application/json")


def _candidates(count: int, start: int = 0) -> list[str]:
    return [f"010-{start + i:04d}-5813" for i in range(count)]


def test_values_past_the_budget_are_refused_with_429(channel: Channel) -> None:
    contact = MemberFactory(channel=channel, profile={"mobileNumber": PHONE})
    basic = credential_client(channel, "basic")

    first = _search(basic, [*_candidates(2), "010-4729-5813"])
    second = _search(basic, _candidates(3, start=100))

    assert first.status_code == 200
    assert [u["id"] for u in first.json()["users"]] == [str(contact.pk)]
    assert second.status_code == 429
    body = second.json()
    assert body["type"] == "rate_limited" and "masked fields" in body["message"]
    assert int(second.headers["Retry-After"]) > 0
    assert PHONE not in second.content.decode()


def test_the_quick_search_by_a_whole_number_counts_one(channel: Channel) -> None:
    MemberFactory(channel=channel, profile={"mobileNumber": PHONE})
    basic = credential_client(channel, "basic")
    answers = [basic.get("/open/v5/users", {"query": "010-4729-5813"}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    # A name search touches no masked key: it is not counted.
    assert basic.get("/open/v5/users", {"query": "Kim"}).status_code == 200


def test_a_viewer_who_may_reveal_is_not_counted(channel: Channel) -> None:
    owner = credential_client(channel, "owner")
    assert _search(owner, _candidates(50)).status_code == 200
    assert _search(owner, _candidates(50)).status_code == 200


def test_the_admin_search_counts_too(channel: Channel) -> None:
    MemberFactory(channel=channel, profile={"mobileNumber": PHONE})
    admin = manager_client(channel, "basic")
    pages = [
        admin.get("/admin/contacts/contact/", {"q": "010-4729-5813"}).content.decode()
        for _ in range(6)
    ]
    assert "masked fields are limited" not in pages[4]
    assert "masked fields are limited" in pages[5]
