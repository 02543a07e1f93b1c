"""The channels' field definitions, kept in each process under the channel's schema version.

Every contact write validates against the definitions and every filtered list compiles against
them, so loading them on each request cost a query and some twenty model instances. A process
keeps them instead, keyed by the channel's schema version, which the database changes on
every created, changed or deleted field (a trigger writes it to the table
`profile_schema_version`; see migration profile_schema 0004):

- A write reads the version under the channel's schema lock (`locks.schema_read_lock`), so it
  validates against the definitions in force until it commits, exactly as if it had loaded them.
- A read uses the version its request read along with the channel (the API's credential
  lookup reads it in the same query), or reads it (`channel_version`): a field changed a moment
  before is seen by the next request.

The cached rows are shared by the requests of the process: read them, never change them. The
cache holds the MAX_CHANNELS channels used last.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from django.db import connection

from crm.models import Channel
from profile_schema.models import PROFILE_PREFIX, ProfileField

MAX_CHANNELS = 2048


@dataclass(frozen=True)
class _Entry:
    version: int
    rows: tuple[ProfileField, ...]
    # The profile.* fields by bare key ("age"), as writes look them up.
    profile_by_key: Mapping[str, ProfileField]


_entries: OrderedDict[int, _Entry] = OrderedDict()
_guard = threading.Lock()


def channel_version(channel: Channel) -> int:
    """The version CHANNEL carries (read with it, or under the schema lock), else read now."""
    if channel.profile_schema_version is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce((SELECT version FROM profile_schema_version"
                " WHERE channel_id = %s), 0)",
                [channel.pk],
            )
            channel.profile_schema_version = int(cursor.fetchone()[0])
    return channel.profile_schema_version


def _entry(channel_id: int, version: int) -> _Entry:
    entry = _entries.get(channel_id)
    if entry is not None and entry.version == version:
        with _guard:  # least recently used goes first when the cache is full
            if channel_id in _entries:
                _entries.move_to_end(channel_id)
        return entry
    rows = tuple(ProfileField.objects.filter(channel_id=channel_id).order_by("order", "key"))
    by_key = MappingProxyType(
        {
            row.key.removeprefix(PROFILE_PREFIX): row
            for row in rows
            if row.key.startswith(PROFILE_PREFIX)
        }
    )
    entry = _Entry(version=version, rows=rows, profile_by_key=by_key)
    with _guard:
        _entries[channel_id] = entry
        _entries.move_to_end(channel_id)
        while len(_entries) > MAX_CHANNELS:
            _entries.popitem(last=False)
    return entry


def channel_fields(*, channel_id: int, version: int) -> tuple[ProfileField, ...]:
    """The channel's field definitions (built-in and profile) as of VERSION, in their order.

    Rows loaded after VERSION was read are never older than it; when they are newer, a later
    caller with the newer version loads them again."""
    return _entry(channel_id, version).rows


def channel_profile_fields(*, channel_id: int, version: int) -> Mapping[str, ProfileField]:
    """The channel's profile.* fields by bare key ("age") as of VERSION (read-only)."""
    return _entry(channel_id, version).profile_by_key


def cache_clear() -> None:
    """Forget every channel (tests, or after restoring a database under running processes)."""
    with _guard:
        _entries.clear()
