"""`manage.py profile_indexes_sync`: make the per-key profile indexes match the fields' flags."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from profile_schema.indexes import indexes_sync_all


class Command(BaseCommand):
    help = (
        "Build the per-key indexes of profile fields marked indexed, rebuild invalid ones and "
        "drop those no marked field names (CONCURRENTLY, without a statement timeout). The "
        "durable path behind the background builds: run it after deploys or from cron."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = indexes_sync_all()
        for outcome in outcomes:
            self.stdout.write(str(outcome))
        failed = [outcome for outcome in outcomes if outcome.action == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(outcomes)} indexes failed; see above.")
        self.stdout.write(f"{len(outcomes)} indexes in sync.")
