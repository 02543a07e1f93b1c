"""Monthly active contacts: a contact counts in every month its data changed."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Any

from django.db.models import Count, QuerySet

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


def mau_by_channel(*, month: date) -> QuerySet[ContactActivity, dict[str, Any]]:
    """Monthly active contacts of every channel for MONTH (its first day): channel, name, count."""
    return (
        ContactActivity.objects.filter(month=month)
        .values("channel_id", "channel__name")
        .annotate(active=Count("contact_id"))
        .order_by("channel__name")
    )


def mau_series(*, channel: Channel, months: int = 12) -> list[tuple[date, int]]:
    """The channel's monthly active contacts in its latest MONTHS active months, oldest first."""
    rows = (
        ContactActivity.objects.filter(channel=channel)
        .values("month")
        .annotate(active=Count("contact_id"))
        .order_by("-month")[:months]
    )
    return sorted((row["month"], row["active"]) for row in rows)
