"""The desk's header, drawn by base.html on every page: the channel switcher, the manager's
role there, the sections of the channel, the language switch and log out. It reads the channel
from the URL (`/desk/<channel_id>/…`), so no view has to pass it."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from crm.models import Channel, Membership
from crm.selectors import channel_get, memberships_for_user

register = template.Library()


def _current_channel_id(request: HttpRequest) -> int | None:
    match = getattr(request, "resolver_match", None)
    value = match.kwargs.get("channel_id") if match is not None else None
    return value if isinstance(value, int) else None


def _current(
    memberships: list[Membership], channel_id: int | None, user: Any
) -> tuple[Channel | None, str]:
    """The channel of the page and the manager's role name there ("" when none)."""
    for membership in memberships:
        if membership.channel_id == channel_id:
            return membership.channel, membership.role.name
    if channel_id is not None and getattr(user, "is_superuser", False):
        return channel_get(channel_id=channel_id), ""
    return None, ""


@register.inclusion_tag("crm/desk_header.html", takes_context=True)
def desk_header(context: template.Context) -> dict[str, Any]:
    """The header's context: the manager's channels (one query, none when the page already
    read them as `desk_memberships`), the page's channel, the role."""
    request: HttpRequest | None = context.get("request")
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    memberships: list[Membership] = context.get("desk_memberships") or []
    if signed_in and user is not None and "desk_memberships" not in context:
        memberships = list(memberships_for_user(user=user))
    channel_id = _current_channel_id(request) if request is not None else None
    channel, role = _current(memberships, channel_id, user)
    return {
        "request": request,
        "user": user,
        "signed_in": signed_in,
        "memberships": memberships,
        "channel": channel,
        "role": role,
        "section": getattr(getattr(request, "resolver_match", None), "url_name", ""),
        "next_path": request.get_full_path() if request is not None else "/",
        "csrf_token": context.get("csrf_token"),
    }
