"""The stored values of one profile key across a channel's contacts: count, convert, remove.

Values live in the `profile` jsonb column of the `contacts_contact` table under bare keys. This
module speaks SQL to that table and column only, never to the contacts app: the table is the
interface (contacts imports profile_schema to validate every write, so the reverse import would
be a cycle).

Conversions and removals walk the channel's contacts by id in batches of BATCH_SIZE (keyset:
`id > after`), each batch one short UPDATE in its own transaction, so a field held by a million
contacts never holds a million row locks or one long transaction. A batch is idempotent (run
again from the same position it changes nothing) and returns the last id it covered, so a job
can stop between batches and resume. Removing or converting a value does not touch
`updated_at`: a schema change by an admin is not activity of the contact (it would count them
as MAU).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from profile_schema.conversions import Conversion

BATCH_SIZE = 5000
Batch = tuple[int | None, int]
"""One batch's outcome: the last contact id it covered (None: no contact is left after the
position, the walk is over) and how many values it changed."""


def stored_values_count(*, channel_id: int, key: str) -> int:
    """How many contacts of the channel hold a value under the bare KEY."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM contacts_contact WHERE channel_id = %s AND profile ? %s",
            [channel_id, key],
        )
        return int(cursor.fetchone()[0])


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


def stored_values_convert_batch(
    *,
    channel_id: int,
    key: str,
    conversion: Conversion,
    timezone: str,
    after: int,
    batch_size: int | None = None,
) -> Batch:
    """Convert the values under KEY with CONVERSION in the next batch of contacts after id
    AFTER: (the last id covered or None, how many changed)."""
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
    return _batch_run(sql, params, channel_id=channel_id, after=after, batch_size=batch_size)


def stored_values_remove_batch(
    *, channel_id: int, key: str, after: int, batch_size: int | None = None
) -> Batch:
    """Remove the values under KEY from the next batch of the channel's contacts after id
    AFTER: (the last id covered or None, how many were removed)."""
    sql = (
        "UPDATE contacts_contact SET profile = profile - %(key)s WHERE channel_id = %(channel)s "
        "AND id > %(after)s AND id <= %(upto)s AND profile ? %(key)s"
    )
    params = {"key": key, "channel": channel_id}
    return _batch_run(sql, params, channel_id=channel_id, after=after, batch_size=batch_size)


def stored_values_convert(
    *,
    channel_id: int,
    key: str,
    conversion: Conversion,
    timezone: str,
    batch_size: int | None = None,
) -> int:
    """Convert the values under KEY with CONVERSION, batch by batch; how many changed."""
    return stored_values_walk(
        lambda after: stored_values_convert_batch(
            channel_id=channel_id,
            key=key,
            conversion=conversion,
            timezone=timezone,
            after=after,
            batch_size=batch_size,
        )
    )


def stored_values_remove(*, channel_id: int, key: str, batch_size: int | None = None) -> int:
    """Remove the values under KEY from the channel's contacts, batch by batch; how many."""
    return stored_values_walk(
        lambda after: stored_values_remove_batch(
            channel_id=channel_id, key=key, after=after, batch_size=batch_size
        )
    )


def stored_values_walk(step: Callable[[int], Batch]) -> int:
    """Run STEP(after) from the first contact until none is left; the values changed in all."""
    after: int | None = 0
    changed = 0
    while after is not None:
        after, count = step(after)
        changed += count
    return changed


def _batch_run(
    sql: str, params: dict[str, Any], *, channel_id: int, after: int, batch_size: int | None
) -> Batch:
    """Run SQL over the next BATCH_SIZE contacts of the channel after id AFTER, in a
    transaction of its own; (the last id covered or None, the rows changed)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(id) FROM (SELECT id FROM contacts_contact WHERE channel_id = %s "
            "AND id > %s ORDER BY id LIMIT %s) AS batch",
            [channel_id, after, batch_size or BATCH_SIZE],
        )
        upto = cursor.fetchone()[0]
        if upto is None:
            return None, 0
        cursor.execute(sql, {**params, "after": after, "upto": upto})
        return upto, cursor.rowcount
