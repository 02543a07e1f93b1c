"""The masking policy in the Django admin: each row shown through the policy of its channel.

A manager can belong to several channels with a role in each, and a changelist mixes their
rows; each row is shown through its own channel's policy (`masking.policy.policy_for`, the one
policy), read once per request and channel. The admin's display methods receive only the row,
so the pages of a `MaskedAdmin` keep their request's policies at hand while they run and render
(`page_policies`); anywhere else every sensitive value is masked and none is revealable.

A `MaskedAdmin` also refuses every query-string lookup but its own filters' parameters
(crm.admin_lookups), any lookup into `profile`, and any lookup on a column holding a key that
the manager may not see in one of their channels, unless it compares whole values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from crm.admin_lookups import DeclaredLookupsOnly
from crm.admin_scoping import ChannelScopedAdmin
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from crm.selectors import permissions_by_channel
from masking.policy import MaskingPolicy, Visibility, policy_for

PROFILE_COLUMN = "profile"
# Lookups that compare a whole value, allowed on a key the manager may not see (as the
# API's `eq` / `in`).
WHOLE_VALUE_LOOKUPS = frozenset({"exact", "in"})
_PERMISSIONS_ATTRIBUTE = "_crm_permissions"  # shared with crm.admin_scoping.ChannelScopedAdmin
_POLICIES_ATTRIBUTE = "_masking_policies"


class PagePolicies:
    """The viewers and masking policies of one manager, one per channel, each read once."""

    def __init__(
        self,
        user: AbstractBaseUser | AnonymousUser,
        permissions: Mapping[int, frozenset[str]] | None,
    ) -> None:
        self.user = user
        # None: a superuser, who holds every permission in every channel.
        self.permissions = permissions
        self._policies: dict[int, MaskingPolicy] = {}

    def viewer(self, channel: Channel) -> Viewer:
        """Who the manager is in CHANNEL (no permission at all where they have no role)."""
        if self.permissions is None:
            held = ALL_PERMISSIONS
        else:
            held = self.permissions.get(channel.pk, frozenset())
        user = self.user if isinstance(self.user, AbstractBaseUser) else None
        return Viewer(channel=channel, permissions=held, user=user)

    def of(self, channel: Channel) -> MaskingPolicy:
        """The masking policy of the manager in CHANNEL."""
        return self.of_id(channel.pk, channel)

    def of_id(self, channel_id: int, channel: Channel | None = None) -> MaskingPolicy:
        """The masking policy of the manager in the channel CHANNEL_ID. A policy is built from
        the channel's field definitions alone, so the channel's row need not be read: a
        reference to it by id stands in."""
        policy = self._policies.get(channel_id)
        if policy is None:
            policy = policy_for(self.viewer(channel or Channel(pk=channel_id)))
            self._policies[channel_id] = policy
        return policy


def request_policies(request: HttpRequest) -> PagePolicies:
    """The policies of REQUEST's manager, read once per request."""
    found = getattr(request, _POLICIES_ATTRIBUTE, None)
    if found is None:
        if not hasattr(request, _PERMISSIONS_ATTRIBUTE):
            setattr(request, _PERMISSIONS_ATTRIBUTE, permissions_by_channel(user=request.user))
        found = PagePolicies(request.user, getattr(request, _PERMISSIONS_ATTRIBUTE))
        setattr(request, _POLICIES_ATTRIBUTE, found)
    return found


_page: ContextVar[PagePolicies | None] = ContextVar("masking_admin_page", default=None)


@contextmanager
def policies_of_page(request: HttpRequest) -> Iterator[PagePolicies]:
    """While it lasts, `page_policies()` answers REQUEST's policies."""
    token = _page.set(request_policies(request))
    try:
        yield request_policies(request)
    finally:
        _page.reset(token)


def page_policies() -> PagePolicies:
    """The policies of the admin page being served; outside one, a viewer who may see
    nothing: every sensitive value masked, none revealable."""
    return _page.get() or PagePolicies(AnonymousUser(), {})


def rendered(request: HttpRequest, respond: Any, *args: Any) -> HttpResponse:
    """RESPOND(REQUEST, *ARGS), rendered while REQUEST's policies are the page's: the rows
    of a page are read and shown while its template renders."""
    with policies_of_page(request):
        response: HttpResponse = respond(request, *args)
        if isinstance(response, TemplateResponse) and not response.is_rendered:
            response.render()
        return response


class MaskedAdmin(DeclaredLookupsOnly, ChannelScopedAdmin):
    """A channel-scoped admin whose rows carry customer data: shown per policy, filtered only
    by its own filters."""

    # Columns whose values are those of a field's key (`member_id` holds `memberId`): a lookup
    # on one of them is refused where the manager may not see the key, unless it compares
    # whole values.
    column_keys: Mapping[str, str] = {}

    def policy_of(self, obj: Any) -> MaskingPolicy:
        """The policy OBJ is shown through: its channel's, for the manager of the page."""
        return page_policies().of(self.object_channel(obj))

    def masked_somewhere(self, request: HttpRequest, key: str) -> bool:
        """KEY is masked, and not revealable, in some channel whose rows the manager sees."""
        ids = self.channel_ids(request, self.view_permission)
        if ids is None:  # a superuser may reveal everywhere
            return False
        policies = request_policies(request)
        return any(policies.of_id(pk).visibility(key) is Visibility.MASKED for pk in ids)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if request is None or not super().lookup_allowed(lookup, value, request):
            return False
        parts = lookup.split(LOOKUP_SEP)
        if PROFILE_COLUMN in parts:
            return False
        key = self.column_keys.get(parts[0])
        if key is None:
            return True
        operator = parts[-1] if len(parts) > 1 else "exact"
        return operator in WHOLE_VALUE_LOOKUPS or not self.masked_somewhere(request, key)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return rendered(request, super().changelist_view, extra_context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return rendered(request, super().changeform_view, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return rendered(request, super().delete_view, object_id, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return rendered(request, super().history_view, object_id, extra_context)
