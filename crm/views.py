"""Desk entry pages and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from contacts.selectors.contacts import contact_count_for_channel
from crm.api import unavailable_headers
from crm.permissions import Permission
from crm.selectors import memberships_for_user, viewer_in_membership


@login_required
@require_GET
def desk_home(request: HttpRequest) -> HttpResponse:
    """The manager's channels, their role there, and how many contacts each holds; a manager
    of one channel who may see its contacts goes straight to its contact list."""
    user = request.user
    assert user.is_authenticated  # login_required lets only managers in (narrows the type)
    memberships = list(memberships_for_user(user=user))
    if len(memberships) == 1 and not getattr(user, "is_superuser", False):
        only = viewer_in_membership(user=user, membership=memberships[0])
        if only.can(Permission.CONTACTS_VIEW):
            return redirect("desk:contacts", channel_id=only.channel.pk)
    rows = []
    for membership in memberships:
        viewer = viewer_in_membership(user=user, membership=membership)
        can_view = viewer.can(Permission.CONTACTS_VIEW)
        rows.append(
            {
                "channel": membership.channel,
                "role": membership.role,
                "contacts": contact_count_for_channel(channel=viewer.channel) if can_view else None,
                "can_view": can_view,
            }
        )
    context = {"rows": rows, "desk_memberships": memberships}
    return render(request, "crm/desk_home.html", context)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and `make run`: 503 with
    Retry-After while the database does not answer `SELECT 1`."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unhealthy"}, status=503, headers=unavailable_headers())
    return JsonResponse({"status": "ok"})
