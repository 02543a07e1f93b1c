"""The maskers' documented rule, table by table (masking/maskers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from masking.maskers import FULL_MASK, email_mask, full_mask, partial_mask, phone_mask


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        # Korean mobiles: the prefix group and the last four digits.
        ("+821012345678", "010-****-5678"),
        ("+821198765432", "011-****-5432"),
        ("010-1234-5678", "010-****-5678"),
        ("01012345678", "010-****-5678"),
        # Landlines: Seoul (02) and the provinces (031, 051, 064), and 070.
        ("+8221234567", "02-***-4567"),
        ("+82212345678", "02-****-5678"),
        ("+82311234567", "031-***-4567"),
        ("+82517654321", "051-***-4321"),
        ("+82641234567", "064-***-4567"),
        ("+827012345678", "070-****-5678"),
        # Two groups (a 1588 number): the last four digits only.
        ("+8215881234", "****-1234"),
        # Foreign numbers, in the international form: the country code and the last four.
        ("+16502530000", "+1 ***-***-0000"),
        ("+447911123456", "+44 **** **3456"),
        ("+81312345678", "+81 *-****-5678"),
    ],
)
def test_phone_partial(stored: str, shown: str) -> None:
    assert phone_mask(stored) == shown


@pytest.mark.parametrize("value", ["", "not a number", "12", None, 1012345678, ["+821012345678"]])
def test_a_phone_that_is_not_one_is_masked_in_full(value: Any) -> None:
    assert phone_mask(value) == FULL_MASK


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("abcdefgh@example.com", "abc*****@example.com"),
        ("abcde@example.com", "abc**@example.com"),
        ("abcd@example.com", "ab**@example.com"),
        ("abc@example.com", "a**@example.com"),
        ("ab@example.com", "a*@example.com"),
        ("a@example.com", "*@example.com"),
        # Unicode local parts count code points, one '*' each.
        ("홍길동님@example.kr", "홍길**@example.kr"),
        ("ünïcödé@example.de", "ünï****@example.de"),
        # The last '@' separates the domain.
        ('"a@b"@example.com', '"a@**@example.com'),
    ],
)
def test_email_partial(stored: str, shown: str) -> None:
    assert email_mask(stored) == shown


@pytest.mark.parametrize("value", ["", "no-at-sign", "@example.com", "local@", None, 5])
def test_an_email_that_is_not_one_is_masked_in_full(value: Any) -> None:
    assert email_mask(value) == FULL_MASK


@pytest.mark.parametrize(
    "value", ["short", "a much longer secret value", 42, 3.5, True, "2024-01-01", ["a", "b"], []]
)
def test_full_mask_hides_length_and_type(value: Any) -> None:
    assert full_mask(value) == FULL_MASK == "********"


def test_partial_mask_picks_by_the_value() -> None:
    assert partial_mask("abcde@example.com") == "abc**@example.com"
    assert partial_mask("+821012345678") == "010-****-5678"
    assert partial_mask("plain text") == FULL_MASK
    assert partial_mask(1234) == FULL_MASK


def test_the_shape_of_a_kind_of_number_masks_like_formatting_each_one() -> None:
    """Stored numbers are masked through the shape of the first number of their kind (same
    first seven characters and length): it must equal formatting each number anew, for every
    region's example mobile and fixed-line numbers with random digits after that prefix."""
    import random

    import phonenumbers

    from masking.maskers import _formatted_mask, phone_format

    rng = random.Random(17)
    samples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for _ in range(5):  # the same prefix with any other digits after it
                tail = "".join(rng.choice("0123456789") for _ in range(len(e164) - 7))
                samples.append(e164[:7] + tail)
    assert len(samples) > 1000
    for e164 in samples:
        number = phonenumbers.parse(e164)
        slow = (
            _formatted_mask(phone_format(number))
            if phonenumbers.is_possible_number(number)
            else FULL_MASK
        )
        assert phone_mask(e164) == slow, e164
