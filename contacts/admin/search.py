"""The contact changelist's search box: the product's quick search, per channel's policy.

A manager may be in several channels with a role in each: each channel's contacts are searched
as that channel's policy allows. A key the manager may see (or reveal) is matched by part of
its value, as the desk's quick search does; a key masked for them only by its whole value, in
the form the product stores it (a phone number typed in any form, an email whatever the case;
a masked name by the whole name), so a manager whose customer calls in finds them, and no
one finds a masked value one character at a time."""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Exact, IExact

from contacts.filtering import quick_search_q
from contacts.filtering.search import PHONE_TEXT
from contacts.listing import SEARCHED_KEYS
from masking.policy import MaskingPolicy
from profile_schema.rules import email_clean, mobile_number_clean
from profile_schema.types import ValueRefused

SEARCHED = frozenset(SEARCHED_KEYS)
NOTHING = Q(pk__in=[])


def whole_value_q(term: str, keys: frozenset[str]) -> Q:
    """Contacts whose value of one of KEYS is TERM as a whole (never a part of it)."""
    found: list[Q] = []
    if "profile.email" in keys and "@" in term:
        try:
            email = email_clean(term)
        except ValueRefused:
            pass
        else:
            found.append(Q(IExact(KeyTextTransform("email", "profile"), email)))
    if "profile.mobileNumber" in keys and PHONE_TEXT.match(term):
        try:
            number = mobile_number_clean(term)
        except ValueRefused:
            pass
        else:
            found.append(Q(Exact(KeyTextTransform("mobileNumber", "profile"), number)))
    if "name" in keys:
        found.append(Q(name__iexact=term))
    return reduce(or_, found, NOTHING)


def term_q(term: str, *, partial: frozenset[str], whole: frozenset[str]) -> Q:
    """Contacts matching TERM: by part of the PARTIAL keys, by the whole of the WHOLE keys, or
    by their member id. Raises InvalidInput for a term the quick search refuses."""
    return quick_search_q(term, searchable=partial) | whole_value_q(term, whole) | Q(member_id=term)


def search_q(term: str, channels: Iterable[tuple[int, MaskingPolicy]]) -> Q:
    """Contacts of CHANNELS (ids, with the manager's policy there) matching TERM, each
    channel's contacts searched as its policy allows."""
    groups: dict[frozenset[str], list[int]] = {}
    for channel_id, policy in channels:
        partial = frozenset(key for key in SEARCHED if policy.may_match_partially(key))
        groups.setdefault(partial, []).append(channel_id)
    found = [
        Q(channel_id__in=ids) & term_q(term, partial=partial, whole=SEARCHED - partial)
        for partial, ids in groups.items()
    ]
    return reduce(or_, found, NOTHING)
