"""Per-key profile indexes: built CONCURRENTLY by a job after commit, used by the planner, dropped
again; converged by the periodic task and the command.

These tests commit (transaction=True): CREATE INDEX CONCURRENTLY cannot run inside the test's
transaction, and it waits for every older transaction, so the test's own must be closed. Tasks
run at once (tasks_immediate): a change's index build job has run when its commit returns."""

from __future__ import annotations

import hashlib
import json
import uuid
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
from crm.jobs.models import Job, JobKind
from crm.jobs.runner import job_execute
from crm.jobs.services import job_resume
from crm.models import Channel
from crm.permissions import ALL_PERMISSIONS, Viewer
from profile_schema import indexes
from profile_schema.background import schema_converge
from profile_schema.indexes import (
    index_create_sql,
    index_drop_sql,
    index_name_for,
    indexes_present,
    indexes_unsettled,
)
from profile_schema.models import FieldType, IndexState, ProfileField
from profile_schema.services import (
    profile_field_delete,
    profile_field_type_change,
    profile_field_update,
)
from tests.api_clients import credential_client as api
from tests.crm.factories import manager_in
from tests.profile_schema.factories import field_in
from tests.profile_schema.schema_objects import (
    CHECKOUT,
    _no_index_left_behind,  # noqa: F401 -- autouse
    on_key,
    seed,
    statistics_lines,
    statistics_of,
    statistics_reset,
    sync,
    transactional,
)

pytestmark = pytest.mark.usefixtures("tasks_immediate")


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
        f"(((profile -> '{key}'::text)) DESC NULLS LAST, id DESC)"
        f" WHERE (channel_id = {channel.pk})"
    )


def plan(sql: str, params: list[Any]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def state(field: ProfileField) -> tuple[bool, str, str]:
    field.refresh_from_db()
    return field.indexed, field.index_state, field.index_error


def index_jobs(channel: Channel) -> list[tuple[str, Any]]:
    """The channel's index build jobs, oldest first: their state and what the build did."""
    jobs = Job.objects.filter(channel=channel, kind=JobKind.INDEX_BUILD).order_by("id")
    return list(jobs.values_list("state", "position"))


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
        "((profile -> 'it''s') DESC NULLS LAST, id DESC) WHERE channel_id = 1"
    )
    assert index_drop_sql(name='a"b').as_string(connection.connection) == (
        'DROP INDEX CONCURRENTLY IF EXISTS "a""b"'
    )


# -- the build job and the planner ----------------------------------------------------------------


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

    assert definition(name) == expected_definition(channel, "age")
    assert state(field) == (True, IndexState.READY, "")
    assert index_jobs(channel) == [("succeeded", {"action": "built"})]
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

    assert definition(name) is None
    assert state(field) == (False, IndexState.NONE, "")
    assert index_jobs(channel)[1:] == [("succeeded", {"action": "dropped"})]


@transactional
def test_quick_toggles_settle_on_the_last_flag(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    client = api(channel)

    for indexed in (True, False, True, False):
        assert patch(client, "profile.age", {"indexed": indexed}).status_code == 200

    assert indexes_present() == []
    assert state(field) == (False, IndexState.NONE, "")
    actions = [position["action"] for _, position in index_jobs(channel)]
    assert actions == ["built", "dropped", "built", "dropped"]


@pytest.mark.django_db
def test_toggles_while_a_build_waits_share_its_job(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)

    for indexed in (True, False, True, False):
        profile_field_update(field=field, indexed=indexed)

    [(job_id, job_state, params)] = Job.objects.filter(kind=JobKind.INDEX_BUILD).values_list(
        "pk", "state", "params"
    )
    assert (job_state, params) == ("queued", {"name": field.index_name, "key": "profile.age"})
    assert job_execute(job_id=job_id) == "succeeded"  # it reads the last flag as it runs
    assert state(field) == (False, IndexState.NONE, "")


@pytest.mark.django_db
def test_a_toggle_while_its_build_runs_starts_another(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    profile_field_update(field=field, indexed=True)
    running = Job.objects.get(kind=JobKind.INDEX_BUILD)
    Job.objects.filter(pk=running.pk).update(state="running", run_token=uuid.uuid4())

    profile_field_update(field=field, indexed=False)  # the running build read the flag already

    jobs = Job.objects.filter(kind=JobKind.INDEX_BUILD).order_by("id")
    assert list(jobs.values_list("state", flat=True)) == ["running", "queued"]


@transactional
def test_deleting_a_field_drops_its_index_and_its_statistics(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER, indexed=True)
    assert indexes_present() == [field.index_name]
    # The field's creation queued the key's statistics.
    assert statistics_of("profile.age") == {"profile.age": on_key("age")}

    profile_field_delete(field=field, confirm_count=0)

    assert indexes_present() == []
    assert statistics_of("profile.age") == {}


@transactional
def test_a_type_change_to_a_list_unmarks_the_field_and_drops_the_index(channel: Channel) -> None:
    field = field_in(channel, "hobby", FieldType.STRING, indexed=True)
    assert indexes_present() == [field.index_name]

    profile_field_type_change(field=field, type=FieldType.LIST)

    assert indexes_present() == []
    assert state(field) == (False, IndexState.NONE, "")


@transactional
def test_a_failed_build_fails_its_job_with_the_reason_and_a_resume_builds_it(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    seed(channel, 2)
    seed(channel, 2)  # duplicate ages: a unique build fails
    monkeypatch.setattr(indexes, "index_create_sql", lambda **kw: _unique(index_create_sql(**kw)))

    profile_field_update(field=field, indexed=True)

    job = Job.objects.get(kind=JobKind.INDEX_BUILD)
    indexed, index_state, error = state(field)
    assert (job.state, job.done, job.position, indexed, index_state) == (
        "failed",
        0,
        None,
        True,
        IndexState.FAILED,
    )
    assert error.startswith("could not create unique index")
    assert job.error == {
        "type": "conflict",
        "message": f"The index {field.index_name} of profile.age could not be built: {error}. "
        "Resume this job, or mark the field again, to try again.",
        "errors": [],
    }
    assert indexes_present() == []

    monkeypatch.undo()
    job_resume(job=job, viewer=Viewer(channel=channel, permissions=ALL_PERMISSIONS))

    job.refresh_from_db()
    assert (job.state, job.done, job.position, job.attempts) == (
        "succeeded",
        1,
        {"action": "built"},
        2,
    )
    assert state(field) == (True, IndexState.READY, "")
    assert definition(field.index_name) == expected_definition(channel, "age")


# -- the periodic converge -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_unsettled_are_the_fields_off_their_flag_with_no_job_and_no_failure(
    channel: Channel,
) -> None:
    lost = field_in(channel, "age", FieldType.NUMBER)
    waiting = field_in(channel, "points", FieldType.NUMBER, indexed=True)  # its job is queued
    failed = field_in(channel, "score", FieldType.NUMBER)
    settled = field_in(channel, "rank", FieldType.NUMBER)
    for row, index_state in ((lost, IndexState.PENDING), (failed, IndexState.FAILED)):
        name = index_name_for(channel_id=channel.pk, key=row.key)
        ProfileField.objects.filter(pk=row.pk).update(
            indexed=True, index_state=index_state, index_name=name
        )
    ProfileField.objects.filter(pk=settled.pk).update(index_name="contact_pf_x")  # once indexed

    fields, orphans = indexes_unsettled()

    assert ([f.key for f in fields], orphans) == (["profile.age"], [])
    assert waiting.index_state == IndexState.PENDING


@transactional
def test_the_periodic_converge_builds_what_a_lost_job_left_and_drops_orphans(
    channel: Channel,
) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    failed = field_in(channel, "score", FieldType.NUMBER)
    name = index_name_for(channel_id=channel.pk, key="age")
    ProfileField.objects.filter(pk=field.pk).update(
        indexed=True, index_state=IndexState.PENDING, index_name=name
    )
    failed_name = index_name_for(channel_id=channel.pk, key="score")
    ProfileField.objects.filter(pk=failed.pk).update(
        indexed=True, index_state=IndexState.FAILED, index_name=failed_name
    )
    orphan = index_name_for(channel_id=channel.pk, key="gone")
    with connection.cursor() as cursor:
        statement = index_create_sql(name=orphan, channel_id=channel.pk, key="gone")
        cursor.execute(statement.as_string(cursor.connection))

    started = schema_converge()

    [job] = Job.objects.filter(kind=JobKind.INDEX_BUILD)
    assert started == [
        f"job {job.pk}: index {name} of profile.age",
        f"dropped {orphan} (no field)",
    ]
    assert (job.state, job.position) == ("succeeded", {"action": "built"})
    assert state(field) == (True, IndexState.READY, "")
    assert indexes_present() == [name]  # the failed build waits for a person
    assert state(failed)[1] == IndexState.FAILED
    assert schema_converge() == []


@transactional
def test_an_index_of_the_old_channel_first_shape_is_rebuilt_led_by_the_value(
    channel: Channel,
) -> None:
    """The first indexes led with channel_id; PostgreSQL 17 and older read them whole for a
    range on the value, so the converge replaces them."""
    field = field_in(channel, "age", FieldType.NUMBER)
    name = index_name_for(channel_id=channel.pk, key="age")
    ProfileField.objects.filter(pk=field.pk).update(
        indexed=True, index_state=IndexState.READY, index_name=name
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX {name} ON contacts_contact "
            "(channel_id, (profile -> 'age') DESC NULLS LAST, id DESC) "
            f"WHERE channel_id = {channel.pk}"
        )

    assert [f.key for f in indexes_unsettled()[0]] == ["profile.age"]
    [line] = schema_converge()

    assert line.endswith(f"index {name} of profile.age")
    assert Job.objects.get(kind=JobKind.INDEX_BUILD).position == {"action": "built"}
    assert definition(name) == expected_definition(channel, "age")
    assert state(field) == (True, IndexState.READY, "")
    assert indexes_unsettled() == ([], [])


# -- the durable path: manage.py profile_indexes_sync ---------------------------------------------


@transactional
def test_the_command_builds_what_a_lost_job_left_and_drops_orphans(channel: Channel) -> None:
    field = field_in(channel, "age", FieldType.NUMBER)
    # Flagged, but no job ran (flagged outside the services): no name, state pending.
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
