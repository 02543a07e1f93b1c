"""The per-key index on the range key, marked and unmarked through the app, and the planner
statistics on its expression."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

from bench.filters.figures import RANGE_KEY, FilterFigures

if TYPE_CHECKING:
    from crm.models import Channel

WHAT_IF_STATISTICS = "bench_what_if_points_stats"


def range_field(channel: Channel) -> Any:
    from profile_schema.models import ProfileField

    return ProfileField.objects.filter(channel=channel, key=RANGE_KEY).first()


def index_supported() -> bool:
    from profile_schema.models import ProfileField

    return any(f.name == "indexed" for f in ProfileField._meta.get_fields())


def index_set(channel: Channel, indexed: bool) -> float:
    """Mark or unmark RANGE_KEY as indexed and sync (profile_indexes_sync); seconds it took.

    The service's own build runs in the background after commit; the command builds here and
    now, under the index's advisory lock, so a build already under way is waited for, never
    doubled, and the bench needs no worker."""
    from django.core.management import call_command

    from profile_schema.services import profile_field_update

    field_ = range_field(channel)
    started = time.perf_counter()
    profile_field_update(field=field_, indexed=indexed)
    call_command("profile_indexes_sync", stdout=io.StringIO())
    seconds = time.perf_counter() - started
    field_.refresh_from_db()
    wanted = "ready" if indexed else "none"
    if field_.index_state != wanted:
        raise RuntimeError(f"{RANGE_KEY}: index state {field_.index_state} ({field_.index_error})")
    return seconds


def analyze_contacts() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    return time.perf_counter() - started


def expression_statistics(create: bool) -> float:
    """The what-if: statistics on the key's expression (then ANALYZE), or their removal.

    The per-key index is partial (WHERE channel_id = …), and the planner ignores the statistics
    of partial indexes, so without these it assumes a third of the rows match any range."""
    from django.db import connection

    with connection.cursor() as cursor:
        if not create:
            cursor.execute(f"DROP STATISTICS IF EXISTS {WHAT_IF_STATISTICS}")
            return 0.0
        cursor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {WHAT_IF_STATISTICS}"
            f" ON ((profile -> '{RANGE_KEY.removeprefix('profile.')}')) FROM contacts_contact"
        )
    return analyze_contacts()


def expression_statistics_present() -> list[str]:
    """Names of the statistics objects on contacts_contact whose definition names the key."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'contacts_contact'::regclass"
            " AND pg_get_statisticsobjdef(oid) LIKE %s ORDER BY 1",
            [f"%'{RANGE_KEY.removeprefix('profile.')}'%"],
        )
        return [row[0] for row in cursor.fetchall()]


def statistics_as_the_services_keep_them(figures: FilterFigures) -> None:
    """The range keys' planner statistics, as the field services leave them after commit.

    A database seeded before the services kept statistics (or by hand) gets them here, so the
    filters are measured as a channel's own would run."""
    from profile_schema.statistics import statistics_sync

    outcomes = statistics_sync()
    made = sorted(o.key for o in outcomes if o.action == "created")
    kept = sorted(o.key for o in outcomes if o.action == "kept")
    figures.setup.append(
        f"Planner statistics on range keys (profile_schema.statistics.statistics_sync): "
        f"{len(kept)} kept, {len(made)} created{': ' + ', '.join(made) if made else ''}."
    )
