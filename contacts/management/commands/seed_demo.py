"""`manage.py seed_demo`: the demo channels, managers and contacts (once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from contacts.demo import demo_seed


class Command(BaseCommand):
    help = "Load the demo data: two channels, three managers, ~2,000 contacts. Runs once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args: Any, **options: Any) -> None:
        summary = demo_seed(contacts=options["contacts"], seed=options["seed"])
        verb = "Created" if summary.created else "Already loaded:"
        names = ", ".join(channel.name for channel in summary.channels)
        self.stdout.write(f"{verb} demo channels {names}.")
