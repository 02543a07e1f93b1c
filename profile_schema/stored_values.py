"""The stored values of one profile key across a channel's contacts: count, convert, remove.

Values live in `contacts_contact.profile` under bare keys. Conversions and removals walk the
channel's contacts by id in batches of BATCH_SIZE (keyset: `id > last`), each batch one short
UPDATE in its own transaction, so a field held by a million contacts never holds a million row
locks or one long transaction. Removing or converting a value does not touch `updated_at`: a
schema change by an admin is not activity of the contact (it would count them as MAU).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction

from contacts.models import Contact
from profile_schema.conversions import Conversion

BATCH_SIZE = 5000


def stored_values_count(*, channel_id: int, key: str) -> int:
    """How many contacts of the channel hold a value under the bare KEY."""
    return Contact.objects.filter(channel_id=channel_id, profile__has_key=key).count()


def stored_values_blocking(
    *, channel_id: int, key: str, conversion: Conversion, timezone: str
) -> int:
    """How many contacts hold a value under KEY that CONVERSION cannot convert."""
    held = (
        "SELECT profile -> %(key)s AS v FROM contacts_contact "
        "WHERE channel_id = %(channel)s AND profile ? %(key)s"
    )
    # The conversion's SQL is a constant of the conversion table; every value is bound.
    sql = f"SELECT count(*) FROM ({held}) AS held WHERE NOT ({conversion.converts})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {"key": key, "channel": channel_id, "tz": timezone})
        return int(cursor.fetchone()[0])


def stored_values_convert(
    *,
    channel_id: int,
    key: str,
    conversion: Conversion,
    timezone: str,
    batch_size: int | None = None,
) -> int:
    """Convert the values under KEY with CONVERSION, batch by batch; how many changed."""
    batch = (
        "SELECT id, profile -> %(key)s AS v FROM contacts_contact WHERE channel_id = %(channel)s "
        "AND id > %(after)s AND id <= %(upto)s AND profile ? %(key)s"
    )
    # The conversion's SQL is a constant of the conversion table; every value is bound.
    new = conversion.result
    held = f"SELECT id, v, {new} AS new FROM ({batch}) AS b WHERE {conversion.converts}"  # noqa: S608
    # Compared as text: jsonb calls 3.0 and 3 equal, but a Datetime must be stored as 3.
    sql = (
        "UPDATE contacts_contact AS c SET profile = jsonb_set(c.profile, ARRAY[%(key)s], held.new) "  # noqa: S608
        f"FROM ({held}) AS held WHERE c.id = held.id AND held.new::text <> held.v::text"
    )
    params = {"key": key, "channel": channel_id, "tz": timezone}
    return sum(_batched(sql, params, channel_id=channel_id, batch_size=batch_size))


def stored_values_remove(*, channel_id: int, key: str, batch_size: int | None = None) -> int:
    """Remove the values under KEY from the channel's contacts, batch by batch; how many."""
    sql = (
        "UPDATE contacts_contact SET profile = profile - %(key)s WHERE channel_id = %(channel)s "
        "AND id > %(after)s AND id <= %(upto)s AND profile ? %(key)s"
    )
    params = {"key": key, "channel": channel_id}
    return sum(_batched(sql, params, channel_id=channel_id, batch_size=batch_size))


def _batched(
    sql: str, params: dict[str, Any], *, channel_id: int, batch_size: int | None
) -> Iterator[int]:
    """Run SQL once per id range of the channel's contacts; yields the rows each changed."""
    for after, upto in _id_ranges(channel_id=channel_id, batch_size=batch_size or BATCH_SIZE):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {**params, "after": after, "upto": upto})
            yield cursor.rowcount


def _id_ranges(*, channel_id: int, batch_size: int) -> Iterator[tuple[int, int]]:
    """Consecutive (after, upto] ranges of contact ids, each holding BATCH_SIZE contacts."""
    after = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(id) FROM (SELECT id FROM contacts_contact WHERE channel_id = %s "
                "AND id > %s ORDER BY id LIMIT %s) AS batch",
                [channel_id, after, batch_size],
            )
            upto = cursor.fetchone()[0]
        if upto is None:
            return
        yield after, upto
        after = upto
