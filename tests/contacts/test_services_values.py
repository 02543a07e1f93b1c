"""The checks every write's values pass: tags by the tag rules, profile values by the fields."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contacts.services.values import tags_clean


def test_tags_are_lowercased_trimmed_and_deduplicated() -> None:
    assert tags_clean([" VIP ", "vip", "Gold", "first-order"]) == [
        "vip",
        "gold",
        "first-order",
    ]


@pytest.mark.parametrize("tag", ["a b", "a.b", "a$b", "a/b", "a\\b", "", "   ", 7, None])
def test_tags_clean_refuses_a_forbidden_tag_and_names_it(tag: object) -> None:
    with pytest.raises(ValidationError) as error:
        tags_clean(["vip", tag])

    assert repr(tag) in error.value.message_dict["tags"][0]


def test_tags_clean_takes_20_tags_and_refuses_21() -> None:
    assert len(tags_clean([f"t{n}" for n in range(20)])) == 20
    with pytest.raises(ValidationError, match="at most 20 tags; 21 were given"):
        tags_clean([f"t{n}" for n in range(21)])


def test_tags_clean_refuses_a_tag_longer_than_50_characters() -> None:
    assert tags_clean(["a" * 50]) == ["a" * 50]
    with pytest.raises(ValidationError, match="at most 50 characters"):
        tags_clean(["a" * 51])
