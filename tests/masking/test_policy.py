"""The one policy: shown, masked, or masked and revealable, per viewer and key."""

from __future__ import annotations

from typing import Any

import pytest

from crm.permissions import Permission, Viewer
from masking.maskers import FULL_MASK
from masking.policy import MaskingPolicy, Visibility, policy_for, text_mask
from profile_schema.models import ProfileField
from tests.profile_schema.factories import field_in

pytestmark = pytest.mark.django_db

MODES = {
    "profile.email": "partial",
    "profile.mobileNumber": "partial",
    "profile.secret": "full",
    "web.os": "full",
    "tags": "full",
}


def _policy(*, can_reveal: bool) -> MaskingPolicy:
    return MaskingPolicy(channel_id=1, can_reveal=can_reveal, modes=MODES)


def test_visibility_per_permission() -> None:
    basic, owner = _policy(can_reveal=False), _policy(can_reveal=True)
    assert basic.visibility("profile.age") is Visibility.SHOWN
    assert basic.visibility("profile.email") is Visibility.MASKED
    assert owner.visibility("profile.email") is Visibility.REVEALABLE
    assert not basic.may_sort("profile.email") and owner.may_sort("profile.email")
    assert basic.may_filter("profile.email", "eq") and basic.may_filter("profile.email", "in")
    assert not basic.may_filter("profile.email", "startsWith")
    assert owner.may_filter("profile.email", "startsWith")
    assert not basic.may_match_partially("profile.mobileNumber")


def _user() -> dict[str, Any]:
    return {
        "id": "7",
        "name": "Kim",
        "profile": {
            "email": "abcdef@example.com",
            "mobileNumber": "+821012345678",
            "secret": 42,
            "age": 30,
        },
        "tags": ["vip"],
        "web": {"os": "Mac OS X 14", "browser": "Chrome"},
        "masked": [],
    }


@pytest.mark.parametrize("can_reveal", [False, True])
def test_user_object_masks_every_sensitive_key_and_lists_them(can_reveal: bool) -> None:
    user = _policy(can_reveal=can_reveal).user_object(_user())
    assert user["profile"] == {
        "email": "abc***@example.com",
        "mobileNumber": "010-****-5678",
        "secret": FULL_MASK,
        "age": 30,
    }
    assert user["tags"] == FULL_MASK and user["web"] == {"os": FULL_MASK, "browser": "Chrome"}
    assert sorted(user["masked"]) == [
        "profile.email",
        "profile.mobileNumber",
        "profile.secret",
        "tags",
        "web.os",
    ]


def test_an_absent_value_is_not_listed_as_masked() -> None:
    user = _user()
    del user["profile"]["secret"]
    user["web"]["os"] = None
    assert "profile.secret" not in _policy(can_reveal=False).user_object(user)["masked"]
    assert user["web"]["os"] is None


def test_filters_mask_values_on_keys_the_viewer_may_not_see() -> None:
    tree = {
        "and": [
            {"key": "profile.mobileNumber", "operator": "in", "values": ["+821012345678"]},
            {"or": [{"key": "profile.age", "operator": "gt", "values": [3]}]},
        ]
    }
    masked = _policy(can_reveal=False).filter_object(tree)
    assert masked["and"][0]["values"] == ["010-****-5678"]
    assert masked["and"][1] == tree["and"][1]
    assert _policy(can_reveal=True).filter_object(tree) == tree


def test_free_text_masks_numbers_emails_and_own_values() -> None:
    modes = {"profile.email": "partial", "profile.mobileNumber": "partial"}
    text = (
        "전화 010-1234-5678, 메일 abcdef@example.com, 코드 MARKER-77, 주문 2024-12-01 수량 1234567"
    )
    assert text_mask(text, modes=modes, own_values=["MARKER-77"]) == (
        "전화 010-****-5678, 메일 abc***@example.com, 코드 ********, 주문 2024-12-01 수량 1234567"
    )
    assert text_mask(text, modes={}) == text


def test_policy_for_reads_the_channels_fields(channel: Any) -> None:
    field_in(channel, "profile.secret", type="number", sensitive=True)
    ProfileField.objects.filter(channel=channel, key="profile.name").update(sensitive=True)
    basic = Viewer(channel=channel, permissions=frozenset({Permission.CONTACTS_VIEW}))
    policy = policy_for(basic)
    assert policy.visibility("profile.secret") is Visibility.MASKED
    assert policy.visibility("profile.email") is Visibility.MASKED  # a preset: sensitive
    assert policy.is_masked("name")  # follows profile.name
    assert not policy.is_masked("id")
