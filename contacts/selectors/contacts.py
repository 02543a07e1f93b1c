"""Reads of contacts: every query scoped to one channel here (docs/ARCHITECTURE.md rule 1).

An id or a member id of another channel is simply not found (404), exactly like a missing one.
Filtered, sorted pages of contacts are contacts.listing, built on `contacts_for_channel`."""

from __future__ import annotations

import re

from django.db.models import F, QuerySet
from django.http import Http404

from contacts.models import Contact
from crm.counting import BoundedCount, count_bounded
from crm.models import Channel
from crm.permissions import Permission, Viewer

# Matches the index contact_last_seen_idx, so a page is an index range scan.
CONTACT_LIST_ORDER = (F("last_seen_at").desc(nulls_last=True), F("id").desc())
# The pk as PostgreSQL's bigint writes it: no sign, no leading zero, no other digit forms.
CONTACT_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_CONTACT_ID = 2**63 - 1


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


def contact_get(*, viewer: Viewer, contact_id: str) -> Contact:
    """The contact of the viewer's channel whose id is CONTACT_ID (as a path writes it);
    Http404 otherwise."""
    if not CONTACT_ID.fullmatch(contact_id) or int(contact_id) > MAX_CONTACT_ID:
        raise Http404("No such user.")
    return _one(viewer, contacts_for_channel(channel=viewer.channel).filter(pk=int(contact_id)))


def contact_get_by_member_id(*, viewer: Viewer, member_id: str) -> Contact:
    """The contact of the viewer's channel whose member id is MEMBER_ID; Http404 otherwise."""
    return _one(viewer, contacts_for_channel(channel=viewer.channel).filter(member_id=member_id))


def contact_as_stored(*, viewer: Viewer, contact_id: int) -> Contact:
    """The contact as stored now, after a write (Http404 when a concurrent delete removed it)."""
    return _one(viewer, contacts_for_channel(channel=viewer.channel).filter(pk=contact_id))


def _one(viewer: Viewer, rows: QuerySet[Contact]) -> Contact:
    try:
        contact = rows.get()
    except Contact.DoesNotExist as error:
        raise Http404("No such user.") from error
    contact.channel = viewer.channel  # already loaded: spares a query to whoever reads it
    return contact
