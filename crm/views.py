"""Desk entry pages and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from contacts.selectors.contacts import contact_count_for_channel
from crm.permissions import Permission, has_permission
from crm.selectors import memberships_for_user


@login_required
@require_GET
def desk_home(request: HttpRequest) -> HttpResponse:
    """The manager's channels, their role there, and how many contacts each holds."""
    rows = []
    for membership in memberships_for_user(user=request.user):
        channel = membership.channel
        can_view = has_permission(
            user=request.user, channel=channel, permission=Permission.CONTACTS_VIEW
        )
        rows.append(
            {
                "channel": channel,
                "role": membership.role,
                "contacts": contact_count_for_channel(channel=channel) if can_view else None,
            }
        )
    return render(request, "crm/desk_home.html", {"rows": rows})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and `make run`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
