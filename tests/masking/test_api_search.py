"""Search and filters on masked keys, through the API: a viewer without sensitive_view finds a
contact by a whole value (eq / in, the quick search) but never by part of one, and cannot sort
by a masked key; a saved segment works as stored; no refusal or cursor carries a hidden value."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import pytest
from django.core import signing

from contacts.models import Contact, Segment
from crm.cursors import CURSOR_SALT
from crm.models import Channel
from tests.contacts.factories import MemberFactory
from tests.masking.test_api_masking import (
    EMAIL,
    MARKERS,
    NAME,
    Api,
    cond,
    leaks,
    secretive,
    shop,
)

__all__ = ["secretive", "shop"]  # fixtures


def found(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [user["id"] for user in response.json()["users"]]


def problems(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.content
    return [(e["key"], e["code"]) for e in response.json()["errors"]]


@pytest.fixture
def others(shop: Channel) -> list[Contact]:
    """Two contacts whose values share a start with the marker contact's."""
    return [
        MemberFactory(
            channel=shop,
            profile={
                "name": "Other one",
                "email": "leak-marker-0000@example.com",
                "mobileNumber": "+821055510000",
            },
        ),
        MemberFactory(channel=shop, profile={"name": "Other two", "email": "x@example.com"}),
    ]


# --- filters --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "condition",
    [
        cond("profile.mobileNumber", "eq", "010-5551-2345"),
        cond("profile.mobileNumber", "eq", "+82 10 5551 2345"),
        cond("profile.mobileNumber", "in", "01000000000", "01055512345"),
        cond("profile.email", "eq", " leak-marker-7f3a@EXAMPLE.com "),
        cond("profile.email", "in", "nobody@example.com", EMAIL),
        cond("name", "eq", NAME),
    ],
)
def test_a_basic_credential_filters_a_masked_key_by_whole_values(
    shop: Channel, secretive: Contact, others: list[Contact], condition: dict[str, Any]
) -> None:
    basic = Api(shop, "basic")

    listed = basic.get("users", filter=json.dumps(condition))
    searched = basic.call("POST", "users/search", {"filter": condition})

    assert found(listed) == found(searched) == [str(secretive.pk)]
    assert leaks(listed) == leaks(searched) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("condition", "key"),
    [
        (cond("profile.email", "startsWith", "leak-marker"), "profile.email"),
        (cond("profile.email", "contains", "7f3a"), "profile.email"),
        (cond("profile.email", "neq", EMAIL), "profile.email"),
        (cond("profile.mobileNumber", "exists"), "profile.mobileNumber"),
        (cond("profile.mobileNumber", "notContains", "5551"), "profile.mobileNumber"),
        (cond("profile.income", "gt", 900000000), "profile.income"),
        (cond("profile.secretCode", "startsWith", "leak"), "profile.secretCode"),
        (cond("name", "contains", "Zq"), "name"),
    ],
)
def test_any_other_operator_on_a_masked_key_is_refused_naming_the_key(
    shop: Channel, secretive: Contact, condition: dict[str, Any], key: str
) -> None:
    basic = Api(shop, "basic")

    response = basic.call("POST", "users/search", {"filter": {"or": [condition]}})

    assert problems(response) == [("filter.or[0].operator", "masked_key")]
    message = response.json()["errors"][0]["message"]
    assert key in message and "whole values" in message
    assert leaks(response) == []


@pytest.mark.django_db
def test_an_owner_filters_a_masked_key_with_any_operator(
    shop: Channel, secretive: Contact, others: list[Contact]
) -> None:
    owner = Api(shop, "owner")

    response = owner.call(
        "POST", "users/search", {"filter": cond("profile.email", "startsWith", "leak-marker-")}
    )

    assert sorted(found(response)) == sorted([str(secretive.pk), str(others[0].pk)])
    assert leaks(response) == []


@pytest.mark.django_db
def test_a_saved_segment_is_compiled_as_stored_for_a_basic_credential(
    shop: Channel, secretive: Contact, others: list[Contact]
) -> None:
    segment = Segment.objects.create(
        channel=shop, name="Markers", filter=cond("profile.email", "startsWith", "leak-marker-7")
    )
    basic = Api(shop, "basic")
    as_condition = cond("segment", "eq", segment.pk)

    direct = basic.get(f"segments/{segment.pk}/users")
    nested = basic.call("POST", "users/search", {"filter": {"and": [as_condition]}})
    shown = basic.get(f"segments/{segment.pk}")

    assert found(direct) == found(nested) == [str(secretive.pk)]
    assert shown.json()["segment"]["filter"]["values"] == ["********"]
    assert leaks(direct) == leaks(nested) == leaks(shown) == []


# --- the quick search -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        EMAIL,
        "LEAK-MARKER-7F3A@example.com",
        "010-5551-2345",
        "01055512345",
        "+82 10-5551-2345",
        NAME,
    ],
)
def test_the_quick_search_finds_a_whole_value_for_a_basic_credential(
    shop: Channel, secretive: Contact, others: list[Contact], query: str
) -> None:
    response = Api(shop, "basic").get("users", query=query)

    assert found(response) == [str(secretive.pk)]
    assert leaks(response) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "leak-marker-7f3a@",
        "leak-marker",
        "leak-marker-7f3a@example",
        "010-5551",
        "5551-2345",
        "+8210555123",
        "Zqleak",
        "leakname",
    ],
)
def test_part_of_a_masked_value_finds_nothing_for_a_basic_credential(
    shop: Channel, secretive: Contact, others: list[Contact], query: str
) -> None:
    basic, owner = Api(shop, "basic"), Api(shop, "owner")

    assert found(basic.get("users", query=query)) == []
    assert found(basic.call("POST", "users/search", {"query": query})) == []
    if query != "leak-marker":  # no '@': a name, and no name holds it
        assert str(secretive.pk) in found(owner.get("users", query=query))


# --- sorting --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["name", "-name"])
def test_a_basic_credential_cannot_sort_by_a_masked_key(
    shop: Channel, secretive: Contact, sort: str
) -> None:
    basic = Api(shop, "basic")

    response = basic.get("users", sort=sort)

    assert problems(response) == [("sort", "masked_key")]
    assert "name is masked for you" in response.json()["errors"][0]["message"]


def cursor_payload(cursor: str) -> str:
    """What anyone holding CURSOR reads in it (a signed cursor is not a sealed one)."""
    signing.loads(cursor, salt=CURSOR_SALT)  # a genuine cursor
    encoded = cursor.split(":", 1)[0]
    raw = base64.urlsafe_b64decode(encoded.lstrip(".") + "=" * (-len(encoded) % 4))
    return zlib.decompress(raw).decode() if encoded.startswith(".") else raw.decode()


@pytest.mark.django_db
def test_an_owner_sorts_by_a_masked_key_and_its_cursors_hold_no_value(
    shop: Channel, secretive: Contact, others: list[Contact]
) -> None:
    owner = Api(shop, "owner")

    pages, since = [], None
    for _ in range(4):
        response = owner.get("users", sort="name", limit="1", **({"since": since} if since else {}))
        assert leaks(response) == []
        pages += found(response)
        since = response.json()["next"]
        if since is None:
            break
        assert [m for m in [*MARKERS, "Other"] if m in cursor_payload(since)] == []

    assert pages == [str(c.pk) for c in (*others, secretive)]  # Other one, Other two, Zq…


@pytest.mark.django_db
def test_a_masked_sorts_cursor_whose_contact_is_gone_is_refused(
    shop: Channel, secretive: Contact, others: list[Contact]
) -> None:
    owner = Api(shop, "owner")
    first = owner.get("users", sort="name", limit="1").json()
    Contact.objects.filter(pk=first["users"][0]["id"]).delete()

    response = owner.get("users", sort="name", limit="1", since=first["next"])

    assert problems(response) == [("since", "invalid_cursor")]
