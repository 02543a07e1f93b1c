"""Reads of the monthly-active ledger: the figures per channel and month."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, QuerySet

from contacts.models import ContactActivity
from crm.models import Channel


def mau_by_channel(*, month: date) -> QuerySet[ContactActivity, dict[str, Any]]:
    """Monthly active contacts of every channel for MONTH (its first day): channel, name, count.

    For the operator's report (manage.py mau), across every channel."""
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
