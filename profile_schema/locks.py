"""The channel's field definitions hold still while a write is validated and stored.

A contact write takes the channel's schema lock shared (an advisory lock, held to the end of
its transaction) before it validates values against the field definitions; a type change or a
field delete takes it exclusive at the moment it switches. So no value validated under the old
definitions commits after the switch: stored values always match their declared types
(ARCHITECTURE rule 2). Advisory locks live in memory: writers never wait for each other."""

from __future__ import annotations

from django.db import connection

# The first half of the two-key advisory lock: this module's namespace.
SCHEMA_LOCK_SPACE = 7251


def schema_read_lock(*, channel_id: int) -> None:
    """Hold the channel's schema lock shared until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, %s)", [SCHEMA_LOCK_SPACE, channel_id]
        )


def schema_write_lock(*, channel_id: int) -> None:
    """Wait for in-flight writes of the channel, then hold its schema lock until commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SCHEMA_LOCK_SPACE, channel_id])
