"""Monthly active contacts: a contact counts in every month its data changed."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from contacts.models import ContactActivity
from crm.models import Channel


def month_of(channel: Channel, moment: datetime) -> date:
    """The first day of MOMENT's month in the channel's time zone."""
    local = moment.astimezone(zoneinfo.ZoneInfo(channel.timezone))
    return local.date().replace(day=1)


def activity_record(*, channel: Channel, contact_id: int, moment: datetime) -> None:
    """Count the contact as active in MOMENT's month (once a month, idempotent)."""
    ContactActivity.objects.bulk_create(
        [ContactActivity(channel=channel, contact_id=contact_id, month=month_of(channel, moment))],
        ignore_conflicts=True,
    )
