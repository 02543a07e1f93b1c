"""The channel's field definitions hold still while a write is validated and stored.

A contact write takes the channel's schema lock shared (an advisory lock, held to the end of
its transaction) before it validates values against the field definitions; a type change or a
field delete takes it exclusive at the moment it switches. So no value validated under the old
definitions commits after the switch: stored values always match their declared types
(ARCHITECTURE rule 2). Advisory locks live in memory: writers never wait for each other."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection

from crm.prepared import server_bound_cursor

if TYPE_CHECKING:
    from crm.models import Channel

# The first half of the two-key advisory lock: this module's namespace. The database function
# profile_schema_read_lock (migration profile_schema 0004) uses the same number.
SCHEMA_LOCK_SPACE = 7251


def schema_read_lock(channel: Channel) -> int:
    """Hold the channel's schema lock shared until the current transaction ends; its version.

    One round trip: the database function takes the lock, then reads the channel's schema
    version, which it also sets on CHANNEL, so the definitions loaded after it
    (`validation.profile_fields_by_key`) are the ones in force until commit."""
    with server_bound_cursor(pipeline=True) as cursor:
        cursor.execute("SELECT profile_schema_read_lock(%s::bigint)", [channel.pk])
        found = cursor.fetchone()[0]
    if found is None:
        raise ChannelGone(f"Channel {channel.pk} no longer exists.")
    channel.profile_schema_version = int(found)
    return channel.profile_schema_version


class ChannelGone(LookupError):
    """The channel a write was for has been deleted (a process may have cached it a moment)."""


def schema_write_lock(*, channel_id: int) -> None:
    """Wait for in-flight writes of the channel, then hold its schema lock until commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SCHEMA_LOCK_SPACE, channel_id])
