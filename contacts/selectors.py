"""Reads for contacts: every query scoped to one channel here (ARCHITECTURE rule 1)."""

from __future__ import annotations

from django.db.models import F, QuerySet

from contacts.models import Contact
from crm.counting import BoundedCount, count_bounded
from crm.models import Channel
from crm.permissions import Permission, Viewer

# Matches the index contact_last_seen_idx, so a page is an index range scan.
CONTACT_LIST_ORDER = (F("last_seen_at").desc(nulls_last=True), F("id").desc())


def contacts_for_channel(*, channel: Channel) -> QuerySet[Contact]:
    """All contacts of CHANNEL: the root of every contact list."""
    return Contact.objects.filter(channel=channel)


def contact_list(*, viewer: Viewer) -> QuerySet[Contact]:
    """The contacts a viewer may list, newest activity first; empty without `contacts_view`."""
    if not viewer.can(Permission.CONTACTS_VIEW):
        return Contact.objects.none()
    return contacts_for_channel(channel=viewer.channel).order_by(*CONTACT_LIST_ORDER)


def contact_count_for_channel(*, channel: Channel) -> BoundedCount:
    """How many contacts CHANNEL holds: exact when fast, else an estimate."""
    return count_bounded(contacts_for_channel(channel=channel))
