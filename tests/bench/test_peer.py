"""The peer's SQL (bench.filters.peer): each scenario's count and page run on this project's
tables and find what its condition says."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from bench.filters.peer import PeerQuery, peer_queries
from crm.models import Channel
from tests.contacts.factories import ContactFactory


def run(query: PeerQuery, channel: Channel) -> tuple[int, list[Any]]:
    """The peer request's count and its page's ids."""
    (count_sql, count_params), (page_sql, page_params) = query.statements(channel.pk)
    with connection.cursor() as cursor:
        cursor.execute(count_sql.as_string(cursor.connection), count_params)
        count = cursor.fetchone()[0]
        cursor.execute(page_sql.as_string(cursor.connection), page_params)
        ids = [row[0] for row in cursor.fetchall()]
    return count, ids


@pytest.mark.django_db
def test_each_peer_query_counts_and_pages_what_its_condition_says(
    channel: Channel, other_channel: Channel
) -> None:
    now = timezone.now()
    rich = ContactFactory(
        channel=channel,
        profile={"name": "김민서", "email": "a@x.example", "gender": "Female", "points": 150_000,
                 "signupDate": "2026-01-02", "mobileNumber": "+821071848418"},
        tags=["vip"],
        last_seen_at=now - timedelta(days=2),
    )  # fmt: skip
    ContactFactory(
        channel=channel,
        profile={"name": "Lee", "email": "b@x.example", "gender": "male", "points": 5},
        tags=["vip", "withdrawn"],
        last_seen_at=now - timedelta(days=60),
    )
    ContactFactory(channel=channel, profile={"name": "no way to reach"}, tags=["vip"])
    ContactFactory(channel=other_channel, profile={"email": "c@x.example", "gender": "female"})
    queries = peer_queries(
        day="2026-01-02", phone_digits="1071848418", name_part="김민서", deep=0,
        today=now.date(),
    )  # fmt: skip

    found = {tag: run(query, channel) for tag, query in queries.items()}

    assert found["page1"][0] == 2  # the contact with no email, phone or id is left out
    for tag in ("gender", "signup", "points", "seen7", "tags", "name", "phone", "worst3"):
        assert found[tag] == (1, [rich.pk]), tag
    assert found["gin3"] == (0, [])


def test_the_deep_page_is_an_offset_and_the_days_count_back_from_today() -> None:
    queries = peer_queries(
        day="2026-01-02", phone_digits="1", name_part="x", deep=30_000, today=date(2026, 12, 3)
    )

    assert queries["deep"].statements(7)[1][1] == (7, 15, 30_000)
    assert queries["seen7"].params == ("2026-11-25",)
    assert queries["worst3"].params == ("female", "2026-11-02", "100000")
