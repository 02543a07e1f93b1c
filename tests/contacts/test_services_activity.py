"""Monthly active contacts: the ledger, the month in the channel's zone, the series."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contacts.selectors.activity import mau_by_channel, mau_series
from contacts.services.activity import activity_record, month_of
from crm.models import Channel
from tests.contacts.factories import ContactFactory


def test_the_month_is_the_channels_not_utcs(channel: Channel) -> None:
    late_utc = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November, 01:00 in Seoul

    assert month_of(channel, late_utc) == date(2026, 11, 1)


@pytest.mark.django_db
def test_a_contact_counts_once_a_month_and_the_series_runs_oldest_first(channel: Channel) -> None:
    first, second = ContactFactory(channel=channel), ContactFactory(channel=channel)
    october, november = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC)
    for moment in (october, october, november):
        activity_record(channel=channel, contact_id=first.pk, moment=moment)
    activity_record(channel=channel, contact_id=second.pk, moment=november)

    assert mau_series(channel=channel) == [(date(2026, 10, 1), 1), (date(2026, 11, 1), 2)]
    assert [(r["channel__name"], r["active"]) for r in mau_by_channel(month=date(2026, 11, 1))] == [
        (channel.name, 2)
    ]
