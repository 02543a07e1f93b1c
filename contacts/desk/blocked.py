"""Blocked customers (차단 고객 관리): the blocked contacts, latest first (who, when, why),
masked like any list, with unblock for a role holding `block`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from contacts.desk.access import desk_viewer
from contacts.desk.profile_display import TYPE_LABELS, shown_value
from contacts.models import Contact
from contacts.representation import user_object
from contacts.selectors.contacts import contacts_for_channel
from crm.counting import count_bounded
from crm.cursors import cursor_decode, cursor_encode
from crm.errors import InvalidInput
from crm.permissions import Permission, Viewer
from masking.policy import policy_for
from profile_schema.models import FieldType

BLOCKED_PER_PAGE = 25


def blocked_contacts(*, viewer: Viewer) -> QuerySet[Contact]:
    """The blocked contacts of the viewer's channel, latest blocked first (contact_blocked_idx)."""
    return (
        contacts_for_channel(channel=viewer.channel)
        .filter(blocked=True)
        .order_by("-blocked_at", "-id")
    )


@login_required
@require_GET
@never_cache
def blocked_list_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    """One page of blocked customers; `after` (a cursor) pages on."""
    viewer = desk_viewer(request, channel_id)
    scope = f"{viewer.channel.pk}:desk-blocked"
    rows = blocked_contacts(viewer=viewer)
    after = _after(request.GET.get("after"), scope)
    page_rows = rows.filter(after) if after is not None else rows
    page = list(page_rows.select_related("blocked_by")[: BLOCKED_PER_PAGE + 1])
    more = len(page) > BLOCKED_PER_PAGE
    page = page[:BLOCKED_PER_PAGE]
    next_cursor = (
        cursor_encode(scope=scope, position=[page[-1].blocked_at.isoformat(), page[-1].pk])
        if more and page[-1].blocked_at is not None
        else None
    )
    context = {
        "channel": viewer.channel,
        "rows": _rows(viewer, page),
        "count": count_bounded(rows),
        "next_cursor": next_cursor,
        "paged": after is not None,
        "may_block": viewer.can(Permission.BLOCK),
    }
    return TemplateResponse(request, "contacts/desk/blocked.html", context)


def _after(cursor: str | None, scope: str) -> Q | None:
    if not cursor:
        return None
    try:
        moment, last_id = cursor_decode(cursor, scope=scope)
        blocked_at, last_id = datetime.fromisoformat(moment), int(last_id)
    except (InvalidInput, TypeError, ValueError):
        return None  # a stale or foreign cursor starts from the first page
    return Q(blocked_at__lt=blocked_at) | Q(blocked_at=blocked_at, id__lt=last_id)


def _rows(viewer: Viewer, contacts: list[Contact]) -> list[dict[str, Any]]:
    policy = policy_for(viewer)
    rows = []
    for contact in contacts:
        user = user_object(contact, policy=policy)
        rows.append(
            {
                "contact": contact,
                "type": TYPE_LABELS.get(contact.type, contact.type),
                "name": shown_value(policy, user, "name", FieldType.STRING),
                "member_id": shown_value(policy, user, "memberId", FieldType.STRING),
                "mobile": shown_value(policy, user, "profile.mobileNumber", FieldType.STRING),
                "email": shown_value(policy, user, "profile.email", FieldType.STRING),
                "blocked_by": contact.blocked_by.get_username() if contact.blocked_by else "",
            }
        )
    return rows
