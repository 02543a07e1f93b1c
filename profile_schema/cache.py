"""The channels' field definitions, kept in each process under the channel's schema version.

Every contact write validates against the definitions and every filtered list compiles against
them, so loading them on each request cost a query and some twenty model instances. A process
keeps them instead, keyed by `Channel.profile_schema_version`, which the database changes on
every created, changed or deleted field (a trigger; see migration profile_schema 0004):

- A write reads the version under the channel's schema lock (`locks.schema_read_lock`), so it
  validates against the definitions in force until it commits, exactly as if it had loaded them.
- A read uses the version on the channel row the request loaded: a field changed a moment
  before is seen by the next request.

The cached rows are shared by the requests of the process: read them, never change them. The
cache holds the last MAX_CHANNELS channels used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from profile_schema.models import ProfileField

MAX_CHANNELS = 2048

_entries: OrderedDict[int, tuple[int, tuple[ProfileField, ...]]] = OrderedDict()
_guard = threading.Lock()


def channel_fields(*, channel_id: int, version: int) -> tuple[ProfileField, ...]:
    """The channel's field definitions (built-in and profile) as of VERSION, in their order.

    Rows loaded after VERSION was read are never older than it; when they are newer, a later
    caller with the newer version loads them again."""
    entry = _entries.get(channel_id)
    if entry is not None and entry[0] == version:
        return entry[1]
    rows = tuple(ProfileField.objects.filter(channel_id=channel_id).order_by("order", "key"))
    with _guard:
        _entries[channel_id] = (version, rows)
        _entries.move_to_end(channel_id)
        while len(_entries) > MAX_CHANNELS:
            _entries.popitem(last=False)
    return rows


def cache_clear() -> None:
    """Forget every channel (tests, or after restoring a database under running processes)."""
    with _guard:
        _entries.clear()
