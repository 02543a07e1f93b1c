"""The DDL objects the profile syncs make (per-key indexes, statistics), read and removed for
tests; these tests commit (transaction=True), so what a test made is dropped after it."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from contacts.models import Contact
from crm.models import Channel
from profile_schema.indexes import index_drop_sql, indexes_present
from profile_schema.statistics import statistics_drop_sql, statistics_name_for, statistics_present

transactional = pytest.mark.django_db(transaction=True)
# Every channel has this Datetime preset, so its key has statistics wherever a channel exists.
CHECKOUT = "profile.lastCheckoutCompletedAt"


@pytest.fixture(autouse=True)
def _no_index_left_behind() -> Iterator[None]:
    """Autouse in every module that imports it: the indexes and statistics a test made go."""
    yield
    if not connection.connection:
        return
    with connection.cursor() as cursor:
        for name in indexes_present():
            cursor.execute(index_drop_sql(name=name).as_string(cursor.connection))
    statistics_reset()


def statistics_reset() -> None:
    """No statistics objects on the table, whatever the syncs the field services queued made:
    the next statistics_sync then shows what it creates."""
    with connection.cursor() as cursor:
        for name in statistics_present():
            cursor.execute(statistics_drop_sql(name=name).as_string(cursor.connection))


def seed(channel: Channel, count: int) -> None:
    """COUNT contacts of CHANNEL aged 0-99 in turn, copied from one in a single statement."""
    template = Contact.objects.create(channel=channel, profile={"age": 0})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            "'contacts_contact' AND is_generated = 'NEVER' AND column_name NOT IN "
            "('id', 'profile') ORDER BY ordinal_position"
        )
        columns = ", ".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            f"INSERT INTO contacts_contact ({columns}, profile) "  # noqa: S608 -- test constants
            f"SELECT {columns}, jsonb_build_object('age', mod(g, 100)) "
            "FROM contacts_contact, generate_series(1, %s) AS g WHERE id = %s",
            [count - 1, template.pk],
        )


def sync() -> str:
    out = StringIO()
    call_command("profile_indexes_sync", stdout=out)
    return out.getvalue()


def statistics_lines(action: str, *keys: str) -> str:
    """The command's lines for the statistics of KEYS, in the order it writes them (by name)."""
    names = sorted((statistics_name_for(key), key) for key in keys)
    return "".join(f"{action} statistics {name} ({key})\n" for name, key in names)


def statistics_of(*keys: str) -> dict[str, str]:
    """The definition of each of KEYS' statistics objects that exists."""
    names = {statistics_name_for(key): key for key in keys}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxname, pg_get_statisticsobjdef(oid) FROM pg_statistic_ext "
            "WHERE stxname = ANY(%s)",
            [list(names)],
        )
        return {names[name]: definition.split(" ON ", 1)[1] for name, definition in cursor}


def on_key(key: str) -> str:
    return f"(profile -> '{key}'::text) FROM contacts_contact"
