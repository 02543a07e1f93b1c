"""Rules of particular profile keys (presets), applied after the String type check.

- `email`: an email address (Django's EmailValidator), surrounding spaces dropped; the domain is
  stored lowercased, the local part as written.
- `mobileNumber`: mobile numbers only, read with `phonenumbers` in region KR: a Korean 010 number
  in local ("010-1234-5678", "01012345678") or E.164 form, or a valid foreign mobile number in
  E.164 form ("+819012345678"). Stored in E.164. A landline, 070, 15xx/16xx/18xx or 080 number
  is refused with `not_mobile_number` and a pointer to `landlineNumber`.
- `landlineNumber`: landline (FIXED_LINE), 070 (VOIP), nationwide service numbers such as
  1588-1234 (UAN), 080 (TOLL_FREE) and shared-cost numbers; also numbers that phonenumbers cannot
  tell from mobiles (FIXED_LINE_OR_MOBILE, e.g. in the US). Stored in E.164, except Korean
  nationwide service numbers: they cannot be dialled from abroad, so they are stored in the
  domestic form people know ("1588-1234"), whichever way they were written. A mobile number is
  refused with `not_landline_number` and a pointer to `mobileNumber`.
- A number with an extension is refused on both keys (E.164 has no place for it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

from profile_schema.types import ValueRefused

PHONE_REGION = "KR"
EMAIL_EXPECTS = "an email address such as name@example.com"
MOBILE_EXPECTS = (
    "a mobile number, such as 010-1234-5678 or +821012345678 (foreign numbers in +country form)"
)
LANDLINE_EXPECTS = (
    "a landline, 070, 080 or nationwide service number, such as 02-123-4567 or 1588-1234"
)
TO_LANDLINE = "Store landline, 070 and 15xx/16xx/18xx numbers under profile.landlineNumber."
TO_MOBILE = "Store mobile numbers under profile.mobileNumber."

_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_LANDLINE_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.UAN,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.SHARED_COST,
    }
)
_KINDS = {
    PhoneNumberType.MOBILE: "a mobile number",
    PhoneNumberType.FIXED_LINE: "a landline number",
    PhoneNumberType.VOIP: "an internet phone number (070)",
    PhoneNumberType.UAN: "a nationwide service number (15xx/16xx/18xx)",
    PhoneNumberType.TOLL_FREE: "a toll-free number (080)",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal number",
}

# The same visitor boots with the same number and address on every page: their cleaned forms
# are kept per process (strings in, strings out; a refusal is computed again each time).
CLEAN_CACHE_SIZE = 8192


@lru_cache(maxsize=CLEAN_CACHE_SIZE)
def email_clean(value: str) -> str:
    """VALUE as an email address with its domain lowercased."""
    address = value.strip()
    try:
        EmailValidator()(address)
    except ValidationError:
        raise ValueRefused("invalid_email", EMAIL_EXPECTS) from None
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def phone_parse(value: str, *, expected: str) -> PhoneNumber:
    """VALUE read as a valid phone number (region KR unless it starts with +country)."""
    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except NumberParseException:
        raise ValueRefused("invalid_phone_number", expected) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueRefused("invalid_phone_number", expected, detail="which is not a valid number")
    if number.extension:
        raise ValueRefused("invalid_phone_number", expected, detail="which has an extension")
    return number


@lru_cache(maxsize=CLEAN_CACHE_SIZE)
def mobile_number_clean(value: str) -> str:
    """VALUE as a mobile number in E.164; landline-like numbers point to landlineNumber."""
    number = phone_parse(value, expected=MOBILE_EXPECTS)
    kind = phonenumbers.number_type(number)
    if kind not in _MOBILE_TYPES:
        detail = f"which is {_KINDS.get(kind, 'not a mobile number')}"
        hint = TO_LANDLINE if kind in _LANDLINE_TYPES else ""
        raise ValueRefused("not_mobile_number", MOBILE_EXPECTS, detail=detail, hint=hint)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@lru_cache(maxsize=CLEAN_CACHE_SIZE)
def landline_number_clean(value: str) -> str:
    """VALUE as a landline-like number: E.164, or '1588-1234' for Korean service numbers."""
    number = phone_parse(value, expected=LANDLINE_EXPECTS)
    kind = phonenumbers.number_type(number)
    if kind not in _LANDLINE_TYPES:
        detail = f"which is {_KINDS.get(kind, 'not a landline number')}"
        hint = TO_MOBILE if kind == PhoneNumberType.MOBILE else ""
        raise ValueRefused("not_landline_number", LANDLINE_EXPECTS, detail=detail, hint=hint)
    domestic_only = kind == PhoneNumberType.UAN and number.country_code == 82
    layout = PhoneNumberFormat.NATIONAL if domestic_only else PhoneNumberFormat.E164
    return phonenumbers.format_number(number, layout)


KEY_RULES: Mapping[str, Callable[[str], str]] = {
    "email": email_clean,
    "mobileNumber": mobile_number_clean,
    "landlineNumber": landline_number_clean,
}
"""Bare profile keys with a rule; their fields are always of type String."""


def key_rule(bare_key: str) -> Callable[[str], str] | None:
    """The rule of the profile key BARE_KEY, or None when it has none."""
    return KEY_RULES.get(bare_key)
