"""Planner statistics on the keys of range-capable fields: one object per key across
channels, kept in step by the field services after commit, and by the command."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections

from contacts.models import Contact
from crm.models import Channel
from profile_schema import statistics
from profile_schema.background import index_syncs_wait
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
    statistics_sync_start,
)
from tests.concurrency import run_together
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
    index_syncs_wait(WAIT_SECONDS)
    statistics_sync()
    assert statistics_of("profile.points") == {"profile.points": on_key("points")}

    profile_field_delete(field=theirs, confirm_count=0)
    index_syncs_wait(WAIT_SECONDS)
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
def test_the_background_sync_creates_them_after_commit(channel: Channel) -> None:
    field_in(channel, "points", FieldType.NUMBER)
    statistics_reset()

    statistics_sync_start()
    index_syncs_wait(WAIT_SECONDS)

    assert statistics_of("profile.points") == {"profile.points": on_key("points")}


def test_starts_while_a_statistics_sync_runs_make_it_run_once_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[int] = []

    def slow_sync() -> list[Any]:
        runs.append(1)
        time.sleep(0.3)
        return []

    monkeypatch.setattr(statistics, "statistics_sync", slow_sync)

    for _ in range(20):  # as 20 fields created in a row do on commit
        statistics_sync_start()
    index_syncs_wait(WAIT_SECONDS)

    assert len(runs) == 2  # the first start's run, then one for all the starts during it
    statistics_sync_start()
    index_syncs_wait(WAIT_SECONDS)
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


@transactional
def test_the_statistics_wait_for_a_lock_on_the_table_without_holding_it(
    channel: Channel,
) -> None:
    field_in(channel, "points", FieldType.NUMBER)
    statistics_reset()
    holder = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        holder.ensure_connection()
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            # What CREATE INDEX CONCURRENTLY holds while it builds.
            cursor.execute("LOCK TABLE contacts_contact IN SHARE UPDATE EXCLUSIVE MODE")
            statistics_sync_start()
            time.sleep(1)
            assert statistics_of("profile.points") == {}
            holder.rollback()
        index_syncs_wait(WAIT_SECONDS)
    finally:
        holder.close()

    assert statistics_of("profile.points") == {"profile.points": on_key("points")}


@transactional
def test_a_drop_waits_for_the_tables_readers_and_then_goes(channel: Channel) -> None:
    field = field_in(channel, "points", FieldType.NUMBER)
    index_syncs_wait(WAIT_SECONDS)  # the creation's own sync, else it may drop after the delete
    statistics_sync()
    ProfileField.objects.filter(pk=field.pk).delete()  # no sync on commit: the test drives it
    index_syncs_wait(WAIT_SECONDS)
    reader = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        reader.ensure_connection()
        reader.set_autocommit(False)
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM contacts_contact")  # holds ACCESS SHARE
            statistics_sync_start()
            time.sleep(1)
            assert statistics_of("profile.points") == {"profile.points": on_key("points")}
            reader.rollback()
        index_syncs_wait(WAIT_SECONDS)
    finally:
        reader.close()

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
    index_syncs_wait(WAIT_SECONDS)
    return statistics_name_for(key) in statistics_present()


@transactional
def test_creating_retyping_and_deleting_fields_sync_the_statistics(channel: Channel) -> None:
    assert present("profile.lastCheckoutCompletedAt")  # the Datetime preset of every channel
    field = field_in(channel, "points", FieldType.NUMBER)
    assert present("profile.points")

    profile_field_type_change(field=field, type=FieldType.STRING)
    assert not present("profile.points")
    profile_field_type_change(field=field, type=FieldType.NUMBER)
    assert present("profile.points")

    profile_field_delete(field=field, confirm_count=0)
    assert not present("profile.points")
