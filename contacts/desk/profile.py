"""The customer profile (고객 프로필): the header, the customer information in the channel's
order and selection, the memo and consent, the events timeline; block and unblock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from contacts.desk.access import desk_contact, desk_viewer
from contacts.desk.profile_display import (
    TYPE_LABELS,
    ShownValue,
    field_label,
    shown_value,
    value_text,
)
from contacts.models import Contact
from contacts.representation import own_sensitive_values, user_object
from contacts.selectors.events import contact_events_page, events_cursor_scope
from contacts.services.profile import contact_block, contact_unblock
from crm.cursors import cursor_decode
from crm.errors import InvalidInput
from crm.permissions import Permission, Viewer
from masking.policy import MaskingPolicy, policy_for
from profile_schema.cache import channel_fields, channel_version
from profile_schema.models import FieldType

EVENTS_PER_PAGE = 20
# Shown in a section of their own (the header, the blocked banner, the memo, the consent),
# not among the information rows.
OWN_SECTIONS = frozenset(
    {
        "id",
        "name",
        "profile.name",
        "memberId",
        "member",
        "tags",
        "blocked",
        "profile.description",
        "unsubscribeEmail",
        "unsubscribeTexting",
    }
)


class BlockForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("Why block this customer?")}),
    )


@login_required
@require_GET
@never_cache
def contact_profile_view(request: HttpRequest, channel_id: int, contact_id: int) -> HttpResponse:
    """The profile page; with `events` (a cursor), the next page of events (htmx: the rows)."""
    viewer = desk_viewer(request, channel_id)
    contact = desk_contact(viewer, contact_id)
    return _profile_response(request, viewer, contact, BlockForm())


def _profile_response(
    request: HttpRequest, viewer: Viewer, contact: Contact, form: BlockForm, status: int = 200
) -> HttpResponse:
    policy = policy_for(viewer)
    events = _events(request, viewer, contact, policy)
    if request.headers.get("HX-Request") and "events" in request.GET:
        return TemplateResponse(request, "contacts/desk/profile_events.html", events)
    user = user_object(contact, policy=policy)
    context = {
        "channel": viewer.channel,
        "contact": contact,
        "header": _header(policy, user, contact),
        "rows": _information(viewer, policy, user),
        "memo": shown_value(policy, user, "profile.description", FieldType.STRING),
        "may_block": viewer.can(Permission.BLOCK),
        "blocked_by": _blocked_by(contact),
        "form": form,
        **events,
    }
    return TemplateResponse(request, "contacts/desk/profile.html", context, status=status)


def _header(policy: MaskingPolicy, user: dict[str, Any], contact: Contact) -> dict[str, Any]:
    return {
        "name": shown_value(policy, user, "name", FieldType.STRING),
        "member_id": shown_value(policy, user, "memberId", FieldType.STRING),
        "type": TYPE_LABELS.get(contact.type, contact.type),
        # Tags are chips, or one mask when the channel marks them sensitive.
        "tags": [] if "tags" in user["masked"] else user["tags"],
        "tags_masked": shown_value(policy, user, "tags", FieldType.LIST)
        if "tags" in user["masked"]
        else None,
    }


def _information(
    viewer: Viewer, policy: MaskingPolicy, user: dict[str, Any]
) -> list[tuple[str, ShownValue]]:
    """The rows of the customer information: the fields the channel shows, in its order; a
    built-in field without a value is left out (a profile field shows it is empty)."""
    fields = channel_fields(channel_id=viewer.channel.pk, version=channel_version(viewer.channel))
    rows = []
    for row in fields:
        if row.shown_in_profile and row.key not in OWN_SECTIONS:
            value = shown_value(policy, user, row.key, row.type)
            if value.text is not None or not row.built_in:
                rows.append((field_label(row), value))
    return rows


def _blocked_by(contact: Contact) -> str:
    """Who blocked CONTACT (a manager since deleted, or an API credential: empty)."""
    if not contact.blocked or contact.blocked_by_id is None:
        return ""
    blocker = contact.blocked_by
    return blocker.get_username() if blocker is not None else ""


def _events(
    request: HttpRequest, viewer: Viewer, contact: Contact, policy: MaskingPolicy
) -> dict[str, Any]:
    """One page of the timeline (newest first), properties masked as free text."""
    after = _events_after(request.GET.get("events"), viewer, contact)
    page = contact_events_page(
        viewer=viewer, contact=contact, order="desc", limit=EVENTS_PER_PAGE, after=after
    )
    own = own_sensitive_values(contact, policy)
    events = [
        {
            "name": event.name,
            "at": event.created_at,
            "properties": [
                (key, value if isinstance(value, str) else value_text("", value))
                for key, value in policy.free_value(event.properties, own_values=own).items()
            ]
            if isinstance(event.properties, dict)
            else [("", str(policy.free_value(event.properties, own_values=own)))],
        }
        for event in page.events
    ]
    return {"events": events, "events_next": page.next, "contact": contact}


def _events_after(
    cursor: str | None, viewer: Viewer, contact: Contact
) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    scope = events_cursor_scope(viewer=viewer, contact=contact, order="desc")
    try:
        moment, event_id = cursor_decode(cursor, scope=scope)
        return datetime.fromisoformat(moment), int(event_id)
    except (InvalidInput, TypeError, ValueError):
        return None  # a stale or foreign cursor starts again from the newest


@login_required
@require_POST
def contact_block_view(request: HttpRequest, channel_id: int, contact_id: int) -> HttpResponse:
    """Block the customer with a reason (role `block`), then back to the profile."""
    viewer = desk_viewer(request, channel_id, Permission.BLOCK)
    contact = desk_contact(viewer, contact_id)
    form = BlockForm(request.POST)
    if not form.is_valid():
        return _profile_response(request, viewer, contact, form, status=400)
    contact_block(viewer=viewer, contact=contact, reason=form.cleaned_data["reason"])
    return HttpResponseRedirect(reverse("desk:contact", args=[channel_id, contact.pk]))


@login_required
@require_POST
def contact_unblock_view(request: HttpRequest, channel_id: int, contact_id: int) -> HttpResponse:
    """Unblock the customer (role `block`), then back to where the button was."""
    viewer = desk_viewer(request, channel_id, Permission.BLOCK)
    contact = desk_contact(viewer, contact_id)
    contact_unblock(viewer=viewer, contact=contact)
    back = "desk:blocked" if request.POST.get("back") == "blocked" else "desk:contact"
    args = [channel_id] if back == "desk:blocked" else [channel_id, contact.pk]
    return HttpResponseRedirect(reverse(back, args=args))
