"""Planner statistics on the keys of range-capable fields: one object per key across
channels, kept in step by a task the field services queue after commit (one run waits at a
time), by the periodic converge and by the command."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from django.db import DatabaseError, connection, transaction
from django_tasks_db.models import DBTaskResult

from contacts.models import Contact
from crm.models import Channel
from profile_schema import statistics
from profile_schema.ddl import ddl_cursor
from profile_schema.indexes import indexes_present
from profile_schema.models import FieldType, ProfileField
from profile_schema.services import profile_field_delete, profile_field_type_change
from profile_schema.statistics import (
    statistics_create_sql,
    statistics_name_for,
    statistics_present,
    statistics_supported,
    statistics_sync,
    statistics_sync_on_commit,
    statistics_sync_request,
)
from tests.concurrency import run_together
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


def test_statistics_names_are_one_per_key_deterministic_short_and_tell_case_apart() -> None:
    digest = hashlib.sha256(b"lastPurchaseAt").hexdigest()[:8]

    assert statistics_name_for("profile.lastPurchaseAt") == f"contact_ps_lastpurchaseat_{digest}"
    assert statistics_name_for("lastPurchaseAt") == statistics_name_for("profile.lastPurchaseAt")
    assert statistics_name_for("userId") != statistics_name_for("userID")
    assert len(statistics_name_for("k" + "Y" * 62)) == 63


def test_statistics_follow_the_types_that_compare_ranges() -> None:
    wanted = {type_ for type_ in FieldType.values if statistics_supported(type_)}

    assert wanted == {FieldType.NUMBER, FieldType.DATE, FieldType.DATETIME}


@transactional
def test_a_range_key_has_statistics_without_the_flag_shared_by_channels_until_the_last_goes(
    channel: Channel, other_channel: Channel
) -> None:
    ours = field_in(channel, "points", FieldType.NUMBER)
    theirs = field_in(other_channel, "points", FieldType.NUMBER)
    field_in(channel, "signupDate", FieldType.DATE)
    field_in(other_channel, "paidAt", FieldType.DATETIME)
    field_in(channel, "nickname", FieldType.STRING)
    field_in(channel, "interests", FieldType.LIST)
    keys = ("profile.points", "profile.signupDate", "profile.paidAt", CHECKOUT)
    statistics_reset()

    created = statistics_sync()

    assert not ours.indexed and indexes_present() == []
    assert [(s.action, s.key) for s in created] == sorted(
        [("created", key) for key in keys], key=lambda s: statistics_name_for(s[1])
    )
    assert statistics_of(*keys, "profile.nickname", "profile.interests") == {
        key: on_key(key.removeprefix("profile.")) for key in keys
    }
    assert sorted(statistics_present()) == sorted(statistics_name_for(key) for key in keys)
    assert {s.action for s in statistics_sync()} == {"kept"}

    profile_field_delete(field=ours, confirm_count=0)
    statistics_sync()
    assert statistics_of("profile.points") == {"profile.points": on_key("points")}

    profile_field_delete(field=theirs, confirm_count=0)
    statistics_sync()
    assert statistics_of("profile.points") == {}


@transactional
def test_a_type_change_gives_or_takes_the_statistics(channel: Channel) -> None:
    field = field_in(channel, "code", FieldType.STRING)
    statistics_sync()
    assert statistics_of("profile.code") == {}

    profile_field_type_change(field=field, type=FieldType.NUMBER)
    statistics_sync()
    assert statistics_of("profile.code") == {"profile.code": on_key("code")}

    profile_field_type_change(field=field, type=FieldType.STRING)
    statistics_sync()
    assert statistics_of("profile.code") == {}


@transactional
def test_the_queued_sync_creates_them_after_commit(channel: Channel, tasks_immediate: None) -> None:
    field_in(channel, "points", FieldType.NUMBER)
    statistics_reset()

    with transaction.atomic():
        statistics_sync_on_commit(FieldType.NUMBER)
        assert statistics_of("profile.points") == {}

    assert statistics_of("profile.points") == {"profile.points": on_key("points")}


SYNC_TASK = "profile_schema.statistics.statistics_sync_task"


def sync_runs() -> list[str]:
    """The statuses of the statistics sync's runs in the database queue, oldest first."""
    runs = DBTaskResult.objects.filter(task_path=SYNC_TASK).order_by("enqueued_at")
    return list(runs.values_list("status", flat=True))


@pytest.mark.django_db
def test_requests_while_a_sync_waits_queue_no_other_and_one_while_it_runs_does() -> None:
    for _ in range(20):  # as 20 fields created in a row do on commit
        statistics_sync_request()

    assert sync_runs() == ["READY"]  # one run, which reads the fields when a worker takes it
    DBTaskResult.objects.filter(task_path=SYNC_TASK).update(status="RUNNING")
    assert statistics_sync_request() is True  # the running one may have read them already
    assert statistics_sync_request() is False
    assert sync_runs() == ["RUNNING", "READY"]


def test_with_tasks_run_at_once_each_request_syncs(
    monkeypatch: pytest.MonkeyPatch, tasks_immediate: None
) -> None:
    runs: list[int] = []
    monkeypatch.setattr(statistics, "statistics_sync", lambda: runs.append(1) or [])

    for _ in range(3):
        assert statistics_sync_request() is True

    assert len(runs) == 3


@transactional
def test_the_command_creates_missing_statistics_and_drops_leftovers(channel: Channel) -> None:
    field_in(channel, "points", FieldType.NUMBER)
    statistics_reset()  # as if no sync had run since the fields came
    leftover = "contact_ps_2467dae1282a7c7646d1"  # a name of the per-index kind they once had
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE STATISTICS {leftover} ON ((profile -> 'age')) FROM contacts_contact"
        )

    out = sync()

    lines = {leftover: f"dropped statistics {leftover} (no field)\n"}
    for key in ("profile.points", CHECKOUT):
        lines[statistics_name_for(key)] = statistics_lines("created", key)
    assert out == "".join(lines[name] for name in sorted(lines)) + (
        "0 indexes and 3 statistics in sync.\n"
    )
    assert sorted(statistics_present()) == sorted(
        statistics_name_for(key) for key in ("profile.points", CHECKOUT)
    )


def while_held(statement: str, locked: threading.Event) -> dict[str, str]:
    """In a transaction that runs STATEMENT and then holds its lock for a second: the points
    key's statistics it sees at the end."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
        locked.set()
        time.sleep(1)
        return statistics_of("profile.points")


def sync_once(locked: threading.Event) -> list[str]:
    locked.wait(10)
    return [outcome.action for outcome in statistics_sync()]


@transactional
def test_the_statistics_wait_for_a_lock_on_the_table_without_holding_it(
    channel: Channel,
) -> None:
    field_in(channel, "points", FieldType.NUMBER)
    statistics_reset()
    locked = threading.Event()
    # What CREATE INDEX CONCURRENTLY holds while it builds.
    lock = "LOCK TABLE contacts_contact IN SHARE UPDATE EXCLUSIVE MODE"

    seen, actions = run_together(2, lambda n: sync_once(locked) if n else while_held(lock, locked))

    assert seen == {}  # not created while the lock was held
    assert sorted(actions) == ["created", "created"]  # the key's, and CHECKOUT's
    assert statistics_of("profile.points") == {"profile.points": on_key("points")}


@transactional
def test_a_drop_waits_for_the_tables_readers_and_then_goes(channel: Channel) -> None:
    field = field_in(channel, "points", FieldType.NUMBER)
    statistics_sync()
    ProfileField.objects.filter(pk=field.pk).delete()  # no sync on commit: the test drives it
    locked = threading.Event()
    read = "SELECT count(*) FROM contacts_contact"  # holds ACCESS SHARE

    seen, actions = run_together(2, lambda n: sync_once(locked) if n else while_held(read, locked))

    assert seen == {"profile.points": on_key("points")}  # not dropped under the reader
    assert sorted(actions) == ["dropped", "kept"]
    assert statistics_of("profile.points") == {}


@transactional
def test_queries_planned_while_statistics_are_dropped_do_not_fail() -> None:
    done = threading.Event()
    failures: list[str] = []

    def create_and_drop() -> int:
        """Create and drop the statistics of a key 600 times; the rounds done."""
        rounds = 0
        try:
            with ddl_cursor() as cursor:
                cursor.execute("SET lock_timeout = '100ms'")
                while rounds < 600:
                    cursor.execute(statistics_create_sql(key="points").as_string(cursor.connection))
                    statistics.statistics_drop(cursor, statistics_name_for("points"))
                    rounds += 1
        finally:
            done.set()
        return rounds

    def plan_in_a_loop() -> int:
        """Plan a range on the key until the drops are done; the plans made."""
        plans = 0
        with connection.cursor() as cursor:
            while not done.is_set():
                try:
                    cursor.execute(
                        "EXPLAIN SELECT id FROM contacts_contact "
                        "WHERE profile -> 'points' > '5'::jsonb"
                    )
                    plans += 1
                except DatabaseError as error:
                    failures.append(str(error).splitlines()[0])
        return plans

    rounds, *plans = run_together(4, lambda n: plan_in_a_loop() if n else create_and_drop())

    assert rounds == 600
    assert all(plans)
    assert failures == []


def range_estimate(channel: Channel, over: int) -> int:
    contacts = Contact.objects.filter(channel=channel, profile__age__gt=over)
    plan = json.loads(contacts.values("id").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


@transactional
def test_with_statistics_a_range_on_an_unindexed_key_is_estimated_close_to_the_truth(
    channel: Channel,
) -> None:
    field_in(channel, "age", FieldType.NUMBER)
    seed(channel, 20_000)  # ages 0-99 in turn: 2 % are over 97
    truth = Contact.objects.filter(channel=channel, profile__age__gt=97).count()
    statistics_reset()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    guessed = range_estimate(channel, 97)

    statistics_sync()  # creates them and analyzes the profile column
    estimated = range_estimate(channel, 97)

    assert truth == 400
    assert guessed > 10 * truth  # a third of the table without them
    assert truth / 1.5 <= estimated <= truth * 1.5


# -- the field services' hook ----------------------------------------------------------------


def present(key: str) -> bool:
    return statistics_name_for(key) in statistics_present()


@transactional
def test_creating_retyping_and_deleting_fields_sync_the_statistics(
    tasks_immediate: None, channel: Channel
) -> None:
    assert present("profile.lastCheckoutCompletedAt")  # the Datetime preset of every channel
    field = field_in(channel, "points", FieldType.NUMBER)
    assert present("profile.points")

    profile_field_type_change(field=field, type=FieldType.STRING)
    assert not present("profile.points")
    profile_field_type_change(field=field, type=FieldType.NUMBER)
    assert present("profile.points")

    profile_field_delete(field=field, confirm_count=0)
    assert not present("profile.points")
