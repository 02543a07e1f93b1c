"""Quick search: one box over name, mobile number and email.

What the user typed decides where to look: something with '@' is an email; digits (with
dashes, spaces, '+') a phone number, matched in the stored E.164 form whatever form was typed
(`010-1234-5678`, `01012345678`, `+8210…`); anything else a name. Fields masked for the viewer
are not searched (docs/ARCHITECTURE.md rule 7)."""

from __future__ import annotations

import re

from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import Contains, IStartsWith, StartsWith

from crm.errors import InvalidInput, Problem

PHONE_TEXT = re.compile(r"^\+?[0-9][0-9 ()\-]{2,}$")
MAX_QUERY = 100


def phone_digits_e164(text: str) -> str:
    """What the user typed as the start of a stored E.164 number ('010-12' -> '+821012')."""
    digits = re.sub(r"[^0-9]", "", text)
    if text.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return "+82" + digits[1:]
    return digits


def quick_search_q(query: str, *, searchable: frozenset[str]) -> Q:
    """Contacts matching QUERY; SEARCHABLE names the keys this viewer may search."""
    text = query.strip()
    if not text:
        return Q()
    if len(text) > MAX_QUERY:
        message = f"query has at most {MAX_QUERY} characters."
        raise InvalidInput([Problem("query", "too_long", message)])
    if "@" in text:
        return _email(text, searchable)
    if PHONE_TEXT.match(text):
        return _phone(text, searchable)
    return Q(name__icontains=text) if "name" in searchable else Q(pk__in=[])


def _email(text: str, searchable: frozenset[str]) -> Q:
    if "profile.email" not in searchable:
        return Q(pk__in=[])
    return Q(IStartsWith(KeyTextTransform("email", "profile"), text))


def _phone(text: str, searchable: frozenset[str]) -> Q:
    q = Q(pk__in=[])
    wanted = phone_digits_e164(text)
    if "profile.mobileNumber" in searchable:
        stored = KeyTextTransform("mobileNumber", "profile")
        lookup = StartsWith if wanted.startswith("+") else Contains
        q = Q(lookup(stored, wanted))
    return q
