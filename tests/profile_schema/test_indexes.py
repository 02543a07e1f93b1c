"""Per-key profile indexes: built CONCURRENTLY after commit, used by the planner, dropped again.

These tests commit (transaction=True): CREATE INDEX CONCURRENTLY cannot run inside the test's
transaction, and it waits for every older transaction, so the test's own must be closed."""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.db.models.fields.json import KeyTransform
from django.test import Client
from django.urls import reverse
from psycopg import sql

from contacts.models import Contact
from crm.models import Channel
from profile_schema import indexes
from profile_schema.background import index_syncs_wait
from profile_schema.indexes import index_create_sql, index_drop_sql, index_name_for, indexes_present
from profile_schema.models import FieldType, IndexState, ProfileField
from profile_schema.services import profile_field_delete, profile_field_type_change
from tests.api_clients import credential_client as api
from tests.crm.factories import manager_in
from tests.profile_schema.factories import field_in
from tests.profile_schema.schema_objects import (
    CHECKOUT,
    WAIT_SECONDS,
    _no_index_left_behind,  # noqa: F401 -- autouse
    on_key,
    seed,
    statistics_lines,
    statistics_of,
    statistics_reset,
    sync,
    transactional,
)


def patch(client: Client, key: str, body: dict[str, Any]) -> Any:
    url = f"/open/v5/profile-fields/{key}"
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def definition(name: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def valid(name: str) -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [name],
        )
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


def expected_definition(channel: Channel, key: str) -> str:
    name = index_name_for(channel_id=channel.pk, key=key)
    return (
        f"CREATE INDEX {name} ON public.contacts_contact USING btree "
        f"(channel_id, ((profile -> '{key}'::text)) DESC NULLS LAST, id DESC)"
        f" WHERE (channel_id = {channel.pk})"
    )


def plan(sql: str, params: list[Any]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def state(field: ProfileField) -> tuple[bool, str, str]:
    field.refresh_from_db()
    return field.indexed, field.index_state, field.index_error


# -- names and statements -----------------------------------------------------------------------


def test_names_are_deterministic_short_and_tell_case_apart() -> None:
    digest = hashlib.sha256(b"lastPurchaseAt").hexdigest()[:8]
    longest = "k" + "Y" * 62

    assert index_name_for(channel_id=12, key="profile.lastPurchaseAt") == (
        f"contact_pf_12_lastpurchaseat_{digest}"
    )
    assert index_name_for(channel_id=12, key="lastPurchaseAt") == index_name_for(
        channel_id=12, key="profile.lastPurchaseAt"
    )
    assert index_name_for(channel_id=12, key="userId") != index_name_for(
        channel_id=12, key="userID"
    )
    assert len(index_name_for(channel_id=10**18, key=longest)) == 63


@pytest.mark.django_db
def test_the_key_is_quoted_as_a_literal_and_the_name_as_an_identifier() -> None:
    connection.ensure_connection()

    create = index_create_sql(name="contact_pf_1_x", channel_id=1, key="profile.it's")

    assert create.as_string(connection.connection) == (
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "contact_pf_1_x" ON "contacts_contact" '
        "(channel_id, (profile -> 'it''s') DESC NULLS LAST, id DESC) WHERE channel_id = 1"
    )
    assert index_drop_sql(name='a"b').as_string(connection.connection) == (
        'DROP INDEX CONCURRENTLY IF EXISTS "a""b"'
    )


# -- the background build and the planner ---------------------------------------------------------


@transactional
def test_marking_builds_an_index_the_planner_uses_and_unmarking_drops_it(
    channel: Channel, other_channel: Channel
) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    field_in(other_channel, "age", FieldType.NUMBER)
    seed(channel, 5000)
    seed(other_channel, 3000)
    client = api(channel)
    name = index_name_for(channel_id=channel.pk, key="age")

    assert patch(client, "profile.age", {"indexed": True}).status_code == 200
    index_syncs_wait(WAIT_SECONDS)

    assert definition(name) == expected_definition(channel, "age")
    assert state(field) == (True, IndexState.READY, "")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    ranged = (
        "SELECT id FROM contacts_contact WHERE channel_id = %s AND profile -> 'age' > '30'::jsonb "
        "ORDER BY profile -> 'age' DESC NULLS LAST, id DESC LIMIT 25"
    )
    assert f"Index Scan using {name}" in plan(ranged, [channel.pk])
    assert name not in plan(ranged, [other_channel.pk])  # the index holds one channel only
    orm = Contact.objects.filter(channel=channel, profile__age__gt=30).order_by(
        KeyTransform("age", "profile").desc(nulls_last=True), "-id"
    )
    assert name in orm.values("id")[:25].explain()

    assert patch(client, "profile.age", {"indexed": False}).status_code == 200
    index_syncs_wait(WAIT_SECONDS)

    assert definition(name) is None
    assert state(field) == (False, IndexState.NONE, "")


@transactional
def test_quick_toggles_settle_on_the_last_flag(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    client = api(channel)

    for indexed in (True, False, True, False):
        assert patch(client, "profile.age", {"indexed": indexed}).status_code == 200
    index_syncs_wait(WAIT_SECONDS)

    assert indexes_present() == []
    assert state(field) == (False, IndexState.NONE, "")


@transactional
def test_deleting_a_field_drops_its_index_and_its_statistics(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER, indexed=True)
    index_syncs_wait(WAIT_SECONDS)
    assert indexes_present() == [field.index_name]
    # The index's background sync brings the key's statistics along.
    assert statistics_of("profile.age") == {"profile.age": on_key("age")}

    profile_field_delete(field=field, confirm_count=0)
    index_syncs_wait(WAIT_SECONDS)

    assert indexes_present() == []
    assert statistics_of("profile.age") == {}


@transactional
def test_a_type_change_to_a_list_unmarks_the_field_and_drops_the_index(channel: Channel) -> None:
    field = field_in(channel, "hobby", FieldType.STRING, indexed=True)
    index_syncs_wait(WAIT_SECONDS)
    assert indexes_present() == [field.index_name]

    profile_field_type_change(field=field, type=FieldType.LIST)
    index_syncs_wait(WAIT_SECONDS)

    assert indexes_present() == []
    assert state(field) == (False, IndexState.NONE, "")


# -- the durable path: manage.py profile_indexes_sync ---------------------------------------------


@transactional
def test_the_command_builds_what_a_dead_thread_left_and_drops_orphans(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    # Flagged, but no thread ran (a process that died): no name, state pending.
    ProfileField.objects.filter(pk=field.pk).update(indexed=True, index_state=IndexState.PENDING)
    orphan = index_name_for(channel_id=channel.pk, key="gone")
    with connection.cursor() as cursor:
        statement = index_create_sql(name=orphan, channel_id=channel.pk, key="gone")
        cursor.execute(statement.as_string(cursor.connection))
    name = index_name_for(channel_id=channel.pk, key="age")
    statistics_reset()

    assert sync() == (
        f"built {name} (profile.age of channel {channel.pk})\n"
        f"dropped {orphan} (no field)\n"
        f"{statistics_lines('created', 'profile.age', CHECKOUT)}"
        "2 indexes and 2 statistics in sync.\n"
    )
    assert definition(name) == expected_definition(channel, "age")
    assert definition(orphan) is None
    assert state(field) == (True, IndexState.READY, "")
    assert sync() == (
        f"kept {name} (profile.age of channel {channel.pk})\n"
        f"{statistics_lines('kept', 'profile.age', CHECKOUT)}"
        "1 indexes and 2 statistics in sync.\n"
    )


def _unique(statement: Any) -> sql.SQL:
    """STATEMENT as a UNIQUE build: it fails on duplicate values, leaving an INVALID index
    behind like any CREATE INDEX CONCURRENTLY that fails."""
    text = statement.as_string(connection.connection).replace(", id DESC", "")
    return sql.SQL(text.replace("CREATE INDEX", "CREATE UNIQUE INDEX", 1))


@transactional
def test_an_invalid_leftover_of_an_interrupted_build_is_rebuilt(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    seed(channel, 3)
    seed(channel, 3)  # duplicate ages
    name = index_name_for(channel_id=channel.pk, key="age")
    ProfileField.objects.filter(pk=field.pk).update(
        indexed=True, index_state=IndexState.PENDING, index_name=name
    )
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        unique = _unique(index_create_sql(name=name, channel_id=channel.pk, key="age"))
        cursor.execute(unique.as_string(cursor.connection))
    assert valid(name) is False  # IF NOT EXISTS alone would keep this unusable index
    statistics_reset()

    assert sync() == (
        f"built {name} (profile.age of channel {channel.pk})\n"
        f"{statistics_lines('created', 'profile.age', CHECKOUT)}"
        "1 indexes and 2 statistics in sync.\n"
    )
    assert valid(name) is True
    assert definition(name) == expected_definition(channel, "age")


@transactional
def test_a_failed_build_is_recorded_and_the_command_fails(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    seed(channel, 2)
    seed(channel, 2)
    name = index_name_for(channel_id=channel.pk, key="age")
    ProfileField.objects.filter(pk=field.pk).update(
        indexed=True, index_state=IndexState.PENDING, index_name=name
    )
    monkeypatch.setattr(indexes, "index_create_sql", lambda **kw: _unique(index_create_sql(**kw)))
    out = StringIO()

    with pytest.raises(CommandError, match=r"1 of 1 indexes failed; see above\."):
        call_command("profile_indexes_sync", stdout=out)

    indexed, index_state, error = state(field)
    assert (indexed, index_state) == (True, IndexState.FAILED)
    assert error.startswith("could not create unique index")
    assert out.getvalue().startswith(
        f"failed {name} (profile.age of channel {channel.pk}): could not create unique index"
    )
    assert valid(name) is None  # the invalid leftover was dropped


# -- the Django admin ---------------------------------------------------------------------------


def admin_client(channel: Channel) -> Client:
    client = Client()
    client.force_login(manager_in(channel, "owner").user)
    return client


def change_form(field: ProfileField, **changes: str) -> dict[str, Any]:
    data = {"name": field.name, "masking": field.masking, "order": str(field.order)}
    data |= {"shown_in_profile": "on"} if field.shown_in_profile else {}
    return data | changes


def change_url(field: ProfileField) -> str:
    return reverse("admin:profile_schema_profilefield_change", args=[field.pk])


@pytest.mark.django_db
def test_an_admin_marks_a_field_indexed_and_sees_the_state(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    client = admin_client(channel)

    response = client.post(change_url(field), change_form(field, indexed="on"))

    assert response.status_code == 302
    assert state(field) == (True, IndexState.PENDING, "")
    assert field.index_name == index_name_for(channel_id=channel.pk, key="age")
    page = client.get(change_url(field)).content.decode()
    assert "Pending: being built or dropped" in page
    assert field.index_name in page


@pytest.mark.django_db
def test_the_admin_refuses_an_index_on_a_list_field(channel: Channel) -> None:
    field = field_in(channel, "interests", FieldType.LIST)

    response = admin_client(channel).post(change_url(field), change_form(field, indexed="on"))

    assert response.status_code == 200
    assert "whose filters use the profile index already" in response.content.decode()
    assert state(field) == (False, IndexState.NONE, "")


@pytest.mark.django_db
def test_a_built_in_fields_index_flag_is_read_only_in_the_admin(channel: Channel) -> None:
    field = ProfileField.objects.get(channel=channel, key="lastSeenAt")

    response = admin_client(channel).post(change_url(field), change_form(field, indexed="on"))

    assert response.status_code == 302
    assert state(field) == (False, IndexState.NONE, "")
