"""Quick search: one box over name, mobile number and email.

What the user typed decides where to look: something with '@' is an email; digits (with
dashes, spaces, '+') a phone number, matched in the stored E.164 form whatever form was typed
(`010-1234-5678`, `01012345678`, `+8210…`); anything else a name.

A key the viewer may not see (masking.policy, docs/ARCHITECTURE.md rule 7) is searched on its
whole value only: a whole email (any case), a whole mobile number in any form, a whole name.
Part of one matches nothing, so the box cannot be used to guess a hidden value a character at a
time; a manager whose customer calls in still finds them by the number, and the answer is
masked like any other."""

from __future__ import annotations

import re

from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Contains, Exact, IExact, IStartsWith, StartsWith

from crm.errors import InvalidInput, Problem
from profile_schema.rules import mobile_number_clean
from profile_schema.types import ValueRefused

PHONE_TEXT = re.compile(r"^\+?[0-9][0-9 ()\-]{2,}$")
MAX_QUERY = 100
NOTHING = Q(pk__in=[])


def phone_digits_e164(text: str) -> str:
    """What the user typed as the start of a stored E.164 number ('010-12' -> '+821012')."""
    digits = re.sub(r"[^0-9]", "", text)
    if text.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return "+82" + digits[1:]
    return digits


def searched_key(query: str) -> str | None:
    """The key QUERY searches: an email, a mobile number, or a name (None when empty)."""
    text = query.strip()
    if not text:
        return None
    if "@" in text:
        return "profile.email"
    if PHONE_TEXT.match(text):
        return "profile.mobileNumber"
    return "name"


def quick_search_q(
    query: str, *, searchable: frozenset[str], whole_only: frozenset[str] = frozenset()
) -> Q:
    """Contacts matching QUERY. SEARCHABLE names the keys this viewer may search by part of
    their value, WHOLE_ONLY those it may find by their whole value only; others are not
    searched."""
    text = query.strip()
    if not text:
        return Q()
    if len(text) > MAX_QUERY:
        message = f"query has at most {MAX_QUERY} characters."
        raise InvalidInput([Problem("query", "too_long", message)])
    if "@" in text:
        return _email(text, searchable, whole_only)
    if PHONE_TEXT.match(text):
        return _phone(text, searchable, whole_only)
    if "name" in searchable:
        return Q(name__icontains=text)
    return Q(name=text) if "name" in whole_only else NOTHING


def _email(text: str, searchable: frozenset[str], whole_only: frozenset[str]) -> Q:
    stored = KeyTextTransform("email", "profile")
    if "profile.email" in searchable:
        return Q(IStartsWith(stored, text))
    if "profile.email" in whole_only:
        # UPPER(email) = UPPER(text): the prefix index (text_pattern_ops) serves equality too.
        return Q(IExact(stored, text))
    return NOTHING


def _phone(text: str, searchable: frozenset[str], whole_only: frozenset[str]) -> Q:
    stored = KeyTextTransform("mobileNumber", "profile")
    if "profile.mobileNumber" in searchable:
        wanted = phone_digits_e164(text)
        lookup = StartsWith if wanted.startswith("+") else Contains
        return Q(lookup(stored, wanted))
    if "profile.mobileNumber" in whole_only:
        try:
            return Q(Exact(stored, mobile_number_clean(text)))
        except ValueRefused:  # not a whole mobile number: part of one finds nothing
            return NOTHING
    return NOTHING
