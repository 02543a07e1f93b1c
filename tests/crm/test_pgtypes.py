"""Timestamps read from PostgreSQL: the fast loader gives what Django's own loader gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from psycopg.pq import Format

from crm.pgtypes import UtcTimestamptzLoader
from tests.contacts.factories import ContactFactory


def read(sql: str, *params: object) -> object:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_connections_read_timestamps_with_the_fast_loader() -> None:
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, Format.TEXT)
    assert loader is UtcTimestamptzLoader
    # Django keeps it: it installs its own only when the time zones differ.
    with connection.cursor() as cursor:
        assert cursor.cursor.adapters.get_loader(1184, Format.TEXT) is UtcTimestamptzLoader


@pytest.mark.django_db
@pytest.mark.parametrize(
    "literal, expected",
    [
        ("2026-11-29 01:49:36.123456+00", datetime(2026, 11, 29, 1, 49, 36, 123456, tzinfo=UTC)),
        ("2026-11-29 01:49:36+00", datetime(2026, 11, 29, 1, 49, 36, tzinfo=UTC)),
        ("2026-11-29 10:49:36.5+09", datetime(2026, 11, 29, 1, 49, 36, 500000, tzinfo=UTC)),
        ("1900-01-01 00:00:00+00", datetime(1900, 1, 1, tzinfo=UTC)),
        ("0001-01-01 00:00:00+00", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31 23:59:59.999999+00", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_values_are_the_same_instant_in_django_utc(literal: str, expected: datetime) -> None:
    value = read("SELECT %s::timestamptz", literal)

    assert value == expected
    assert value.tzinfo is UTC


@pytest.mark.django_db
def test_what_iso_parsing_cannot_read_goes_to_psycopg_and_fails_as_before() -> None:
    # psycopg refuses infinity and years past 9999 with the same error as without the loader.
    from django.db import DataError

    for literal in ("infinity", "10000-01-01 00:00:00+00", "0044-03-15 00:00:00+00 BC"):
        with pytest.raises(DataError, match="timestamp"):
            read("SELECT %s::timestamptz", literal)


@pytest.mark.django_db
def test_model_timestamps_round_trip(channel: object) -> None:
    seen = datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC)
    contact = ContactFactory(channel=channel, last_seen_at=seen)
    contact.refresh_from_db()

    assert contact.last_seen_at == seen
    assert contact.created_at.tzinfo is UTC
    assert abs(contact.created_at - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.django_db
def test_a_session_in_another_time_zone_still_reads_the_right_instant() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Asia/Seoul'")
    assert read("SELECT %s::timestamptz", "2026-11-29 01:49:36+00") == datetime(
        2026, 11, 29, 1, 49, 36, tzinfo=UTC
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'America/New_York'")
    # 9999-12-31 23:00-05 is past 9999 in UTC: read as Django's own loader reads it.
    assert read("SELECT %s::timestamptz", "9999-12-31 23:00:00-05") == datetime(
        9999, 12, 31, 23, 0, tzinfo=UTC
    )
