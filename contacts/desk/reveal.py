"""The desk's eye button: one masked value of one customer, revealed in place (an htmx POST),
for a manager whose role holds `sensitive_view`; audited by the reveal service."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from contacts.desk.access import desk_contact, desk_viewer
from contacts.services.reveal import contact_value_reveal
from crm.errors import InvalidInput


@login_required
@require_POST
@never_cache
def contact_value_reveal_view(
    request: HttpRequest, channel_id: int, contact_id: int
) -> HttpResponse:
    """POST `key`: the value, as a fragment that replaces the masked one (200); a role without
    `sensitive_view` is a 403, a key with nothing to reveal a 400, with the reason as text."""
    viewer = desk_viewer(request, channel_id)
    contact = desk_contact(viewer, contact_id)
    try:
        revealed = contact_value_reveal(viewer=viewer, contact=contact, key=request.POST.get("key"))
    except InvalidInput as refused:
        return HttpResponse(refused.message, status=400, content_type="text/plain; charset=utf-8")
    except PermissionDenied as refused:
        return HttpResponse(str(refused), status=403, content_type="text/plain; charset=utf-8")
    value = revealed.value
    shown = ", ".join(str(item) for item in value) if isinstance(value, list) else value
    return TemplateResponse(
        request,
        "contacts/desk/revealed.html",
        {"key": revealed.key, "value": value, "shown": shown},
    )
