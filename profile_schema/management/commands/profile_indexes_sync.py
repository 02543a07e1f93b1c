"""`manage.py profile_indexes_sync`: make the per-key profile indexes match the fields' flags,
and the planner statistics on profile keys match the fields' types."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from profile_schema.indexes import indexes_sync_all
from profile_schema.statistics import statistics_sync


class Command(BaseCommand):
    help = (
        "Build the per-key indexes of profile fields marked indexed, rebuild invalid ones and "
        "drop those no marked field names (CONCURRENTLY, without a statement timeout); create "
        "the planner statistics of every Number, Date and Datetime key and drop those no field "
        "wants. The workers' periodic task converges the same every few minutes (failed builds "
        "excepted); this runs it now, in this process, failed builds included."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        indexes = indexes_sync_all()
        for outcome in indexes:
            self.stdout.write(str(outcome))
        statistics = statistics_sync()
        for statistic in statistics:
            self.stdout.write(str(statistic))
        problems = [
            f"{len(failed)} of {len(outcomes)} {what} failed"
            for what, outcomes in (("indexes", indexes), ("statistics", statistics))
            if (failed := [o for o in outcomes if o.action == "failed"])
        ]
        if problems:
            raise CommandError(f"{'; '.join(problems)}; see above.")
        self.stdout.write(f"{len(indexes)} indexes and {len(statistics)} statistics in sync.")
