"""Who may open a desk page of a channel: a manager of it, with the permission the page needs.

A channel the manager does not belong to, and a contact of another channel, are a 404 on every
desk URL (nothing tells whether they exist); a page the role does not allow is a 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from contacts.models import Contact
from contacts.selectors.contacts import contacts_for_channel
from crm.ids import id_parse
from crm.permissions import Permission, Viewer
from crm.selectors import channel_get, viewer_for_user


def desk_viewer(
    request: HttpRequest, channel_id: int, permission: str = Permission.CONTACTS_VIEW
) -> Viewer:
    """REQUEST's manager as a viewer of CHANNEL_ID, holding PERMISSION (404 / 403 otherwise).
    Desk views are `login_required`: the user is a logged-in manager here."""
    user = request.user
    channel = channel_get(channel_id=channel_id)
    viewer = viewer_for_user(user=user, channel=channel) if channel is not None else None
    if viewer is None:
        raise Http404("No such channel.")
    if not viewer.can(permission):
        raise PermissionDenied(f"Your role lacks the {permission} permission needed for this.")
    return viewer


def desk_contact(viewer: Viewer, contact_id: object) -> Contact:
    """The contact CONTACT_ID of VIEWER's channel (404 for any other, or a malformed id)."""
    parsed = id_parse(str(contact_id))
    contact = (
        contacts_for_channel(channel=viewer.channel).filter(pk=parsed).first()
        if parsed is not None
        else None
    )
    if contact is None:
        raise Http404("No such customer in this channel.")
    return contact
