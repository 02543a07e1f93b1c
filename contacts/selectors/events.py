"""Reads of a contact's events: keyset pages on (created_at, id), newest or oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from contacts.models import Contact, Event
from crm.cursors import cursor_encode
from crm.permissions import Viewer

SORT_ORDERS = ("desc", "asc")


@dataclass(frozen=True)
class EventsPage:
    """One page of events and the cursor of the next (None on the last)."""

    events: list[Event]
    next: str | None


def events_for_contact(*, viewer: Viewer, contact: Contact) -> QuerySet[Event]:
    """CONTACT's events, scoped to the viewer's channel (index event_contact_time_idx)."""
    return Event.objects.filter(channel_id=viewer.channel.pk, contact_id=contact.pk)


def events_cursor_scope(*, viewer: Viewer, contact: Contact, order: str) -> str:
    """What a cursor of CONTACT's events in ORDER is valid for (crm.cursors)."""
    return f"{viewer.channel.pk}:users/{contact.pk}/events:{order}"


def contact_events_page(
    *,
    viewer: Viewer,
    contact: Contact,
    order: str,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> EventsPage:
    """One page of CONTACT's events after AFTER (the (created_at, id) a cursor stopped at), in
    ORDER (desc: newest first), and the cursor of the next page."""
    rows = events_for_contact(viewer=viewer, contact=contact)
    if after is not None:
        moment, event_id = after
        if order == "desc":
            rows = rows.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=event_id))
        else:
            rows = rows.filter(Q(created_at__gt=moment) | Q(created_at=moment, id__gt=event_id))
    ordering = ("-created_at", "-id") if order == "desc" else ("created_at", "id")
    events = list(rows.order_by(*ordering)[: limit + 1])
    if len(events) <= limit:
        return EventsPage(events=events, next=None)
    last = events[limit - 1]
    cursor = cursor_encode(
        scope=events_cursor_scope(viewer=viewer, contact=contact, order=order),
        position=[last.created_at.isoformat(), last.pk],
    )
    return EventsPage(events=events[:limit], next=cursor)
