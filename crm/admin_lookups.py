"""A changelist answers only the lookups its own filters make.

Django's changelist turns any query-string parameter naming a model field into a lookup
(`?profile__email__startswith=cust`), unless `ModelAdmin.lookup_allowed` refuses it, as
`UserAdmin` does for `password`. One parameter at a time, such lookups guess a hidden value
character by character. An admin built on `DeclaredLookupsOnly` accepts only the parameters
of the filters it offers (and the few its own pages link to, `extra_lookups`); Django answers
any other with its usual refusal (DisallowedModelAdminLookup: a 400)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# What Django's field filters put in the query string: `blocked__exact`, `state__isnull`,
# and a date filter's `created_at__gte` / `created_at__lt`.
FIELD_FILTER_LOOKUPS = ("exact", "isnull", "gte", "lt")


def filter_parameters(list_filter: Iterable[Any]) -> frozenset[str]:
    """The query-string parameters the filters of LIST_FILTER read."""
    names: set[str] = set()
    for item in list_filter:
        if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
            names.add(str(item.parameter_name))
            continue
        path = item[0] if isinstance(item, (list, tuple)) else item
        names.update(f"{path}__{lookup}" for lookup in FIELD_FILTER_LOOKUPS)
    return frozenset(names)


class DeclaredLookupsOnly(admin.ModelAdmin):
    """A ModelAdmin whose changelist refuses every lookup but its filters' parameters."""

    # Further parameters the product's own links carry (a list of ids after starting jobs).
    extra_lookups: tuple[str, ...] = ()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if request is None:
            return False
        allowed = filter_parameters(self.get_list_filter(request)) | set(self.extra_lookups)
        return lookup in allowed
