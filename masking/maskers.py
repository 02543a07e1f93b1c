"""The maskers: pure functions from a stored value to the string shown in its place.

Masking changes what is shown, never what is stored (ARCHITECTURE rule 7). A masked value is
always a string, whatever the field's type, so that a client never mistakes it for data.

- **Full** (`FULL_MASK`, eight asterisks): the same string for every value, so it reveals
  neither the value's length nor its type; a list, a number, a date or a boolean masked in full
  is this string too.
- **Partial phone** (`phone_mask`): the number is written the way its owner reads it (a Korean
  number in the national form, `010-1234-5678`, `02-123-4567`; any other in the international
  form, `+1 650-253-0000`); then the first group is kept when the number has three groups or
  more (the prefix or area code: `010`, `02`, `070`, `+1`), the last four digits are kept, and
  every other digit becomes `*`: `010-****-5678`, `02-***-4567`, `070-****-5678`,
  `****-1234` (`1588-1234`), `+1 ***-***-0000`, `+44 **** **3456`. A number with four digits or
  fewer after its kept group shows none of them. A value that is not a phone number is masked in
  full.
- **Partial email** (`email_mask`): the domain is kept; of the local part (counted in Unicode
  code points) the first three characters are kept, fewer when it is short so that at least two
  are hidden (one, for a local part of two characters; none, for one character), and each
  hidden character becomes one `*`: `abc**@example.com`, `ab**@x.kr`, `a**@x.kr`, `a*@x.kr`,
  `*@x.kr`. A value that is not an email address is masked in full.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers

FULL_MASK = "********"
MASK_CHAR = "*"

# Groups of a formatted number: digits (and a leading '+'), then what separates them.
_GROUP = re.compile(r"\+?\d+")
_KEPT_DIGITS = 4


def full_mask(value: Any = None) -> str:
    """The one fixed mask, for any value of any type."""
    return FULL_MASK


def _phone_parse(value: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value, "KR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return number


def phone_format(number: phonenumbers.PhoneNumber) -> str:
    """NUMBER the way its owner reads it: Korean numbers nationally, others internationally."""
    if number.country_code == 82:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_mask(value: Any) -> str:
    """VALUE (a phone number, E.164 as stored, or any common form) partly masked."""
    if not isinstance(value, str):
        return FULL_MASK
    if _E164.fullmatch(value):
        shape = _shape(value[:_SHAPE_PREFIX], len(value))
        if shape is not None:
            return _shape_fill(shape, value)
    number = _phone_parse(value)
    if number is None:
        return FULL_MASK
    return _formatted_mask(phone_format(number))


# Formatting a number costs some 20 microseconds, and a page of 25 contacts may hold 50; but
# numbers that share their country code, their leading digits and their length are written in
# the same groups. A stored (E.164) number is masked through the shape of the first number of
# its kind: the masked text with each shown digit's place in the E.164 string.
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SHAPE_PREFIX = 7  # '+', the country code and the leading digits that pick the grouping


@dataclass(frozen=True)
class _Shape:
    parts: tuple[str | int, ...]  # literal text, or the index of a digit of the E.164 string


@functools.lru_cache(maxsize=4096)
def _shape(prefix: str, length: int) -> _Shape | None:
    """The shape of the E.164 numbers starting with PREFIX of LENGTH characters (None when
    such numbers do not format consistently: they go the slow way)."""
    sample = prefix + "5" * (length - len(prefix))
    number = _phone_parse(sample)
    if number is None:
        return None
    formatted = phone_format(number)
    national = phonenumbers.national_significant_number(number)
    if not sample.endswith(national):
        return None
    masked = _formatted_mask(formatted)
    # The formatted digits end with the national significant number, which ends the E.164 one.
    digit_positions = [i for i, ch in enumerate(formatted) if ch.isdigit()]
    first_national = len(digit_positions) - len(national)
    if first_national < 0:
        return None
    parts: list[str | int] = []
    for position, ch in enumerate(masked):
        if position in digit_positions and ch != MASK_CHAR:
            rank = digit_positions.index(position)
            if rank >= first_national:
                parts.append(length - len(national) + rank - first_national)
                continue
        parts.append(ch)
    return _Shape(parts=tuple(parts))


def _shape_fill(shape: _Shape, value: str) -> str:
    return "".join(value[part] if isinstance(part, int) else part for part in shape.parts)


def _formatted_mask(formatted: str) -> str:
    groups = list(_GROUP.finditer(formatted))
    kept_until = groups[0].end() if len(groups) >= 3 else 0
    masked_digits = sum(ch.isdigit() for ch in formatted[kept_until:])
    keep_last = _KEPT_DIGITS if masked_digits > _KEPT_DIGITS else 0
    out: list[str] = []
    digits_seen = 0
    for position, ch in enumerate(formatted):
        if position < kept_until or not ch.isdigit():
            out.append(ch)
            continue
        digits_seen += 1
        out.append(ch if digits_seen > masked_digits - keep_last else MASK_CHAR)
    return "".join(out)


def _local_kept(length: int) -> int:
    if length >= 3:
        return min(3, length - 2)
    return max(0, length - 1)


def email_mask(value: Any) -> str:
    """VALUE (an email address) with most of its local part masked, the domain kept."""
    if not isinstance(value, str):
        return FULL_MASK
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return FULL_MASK
    kept = _local_kept(len(local))
    return f"{local[:kept]}{MASK_CHAR * (len(local) - kept)}@{domain}"


def partial_mask(value: Any) -> str:
    """VALUE under partial masking: an email keeps part of its local part, a phone number its
    prefix group and last four digits; anything else is masked in full."""
    if isinstance(value, str):
        if "@" in value:
            return email_mask(value)
        if _phone_parse(value) is not None:
            return phone_mask(value)
    return FULL_MASK
