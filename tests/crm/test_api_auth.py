"""The API credential lookup every /open/v5 request starts with."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.api_auth import credential_active
from crm.models import ApiCredential, Channel, Role
from crm.services import credential_create
from profile_schema.cache import channel_version
from profile_schema.services import profile_field_create


def issued(channel: Channel, role: str = "basic") -> ApiCredential:
    found = credential_create(channel=channel, role=Role.objects.get(channel=channel, name=role))
    return found.credential


def fields_of(instance: object) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_credential_channel_and_role_are_the_orms_in_one_statement(
    channel: Channel,
) -> None:
    credential = issued(channel)
    credential.last_used_at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    credential.save()
    expected = ApiCredential.objects.select_related("channel", "role").get(pk=credential.pk)

    with CaptureQueriesContext(connection) as queries:
        found = credential_active(credential.access_key)
        assert found is not None
        channel_read, role_read = found.channel, found.role  # no query: read along

    assert len(queries.captured_queries) == 1
    assert fields_of(found) == fields_of(expected)
    assert fields_of(channel_read) == fields_of(expected.channel)
    assert fields_of(role_read) == fields_of(expected.role)
    assert role_read.permissions == expected.role.permissions
    assert isinstance(role_read.permissions, list)
    assert found._state.adding is False
    assert found._state.db == "default"


@pytest.mark.django_db
def test_the_channel_carries_its_schema_version(channel: Channel) -> None:
    credential = issued(channel)
    before = credential_active(credential.access_key)
    profile_field_create(channel=channel, key="shoeSize", name="Shoe size", type="number")
    after = credential_active(credential.access_key)

    assert before is not None and after is not None
    assert after.channel.profile_schema_version != before.channel.profile_schema_version
    fresh = Channel.objects.get(pk=channel.pk)
    assert after.channel.profile_schema_version == channel_version(fresh)


@pytest.mark.django_db
def test_revoked_unknown_and_other_keys_find_nothing(
    channel: Channel, other_channel: Channel
) -> None:
    ours = issued(channel)
    theirs = issued(other_channel)
    ours.revoked_at = datetime.now(UTC)
    ours.save()

    assert credential_active(ours.access_key) is None
    assert credential_active("no-such-key") is None
    assert credential_active("' OR 1=1 --") is None
    found = credential_active(theirs.access_key)
    assert found is not None and found.channel == other_channel


@pytest.mark.django_db
def test_the_prepared_statement_answers_the_same_and_sees_a_revocation(channel: Channel) -> None:
    """Past psycopg's prepare threshold (5) the statement runs prepared: same answer, and a
    revocation committed in between is seen by the very next call."""
    credential = issued(channel)
    first = credential_active(credential.access_key)
    for _ in range(7):
        again = credential_active(credential.access_key)
        assert again is not None and first is not None
        assert fields_of(again) == fields_of(first)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%c.access_key = $1%"])  # fmt: skip
        assert cursor.fetchone()[0] == 1
    ApiCredential.objects.filter(pk=credential.pk).update(revoked_at=datetime.now(UTC))

    assert credential_active(credential.access_key) is None
