"""Views that fail while handling a request that carries customer values (tests of the error
reports and the error log, tests/crm/test_log_safety.py)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

from contacts.models import Contact
from crm.models import Channel


def search_fails(request: HttpRequest, member_id: str = "") -> HttpResponse:
    """Reads the search term, the body and a contact's profile, then fails."""
    query = request.GET.get("query", "")
    body = request.body.decode()
    contact = Contact.objects.get(pk=int(request.GET["contact"]))
    profile = contact.profile
    read = len(query) + len(body) + len(profile) + len(member_id)
    raise RuntimeError(f"The search failed after reading {read} values.")


def duplicate_key(request: HttpRequest) -> HttpResponse:
    """A write PostgreSQL refuses, quoting the value in its error's detail."""
    with transaction.atomic():
        Channel.objects.create(
            name="Copy", plugin_key=request.GET["pluginKey"], member_hash_secret="0" * 64
        )
    return HttpResponse("created")


urlpatterns = [
    path("open/v5/users/search-fails", search_fails),
    path("open/v5/users/@<str:member_id>/fails", search_fails),
    path("duplicate", duplicate_key),
]
