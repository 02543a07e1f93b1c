"""`manage.py mau --month YYYY-MM`: monthly active contacts per channel."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.selectors.activity import mau_by_channel


def month_parse(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError as error:
        raise CommandError(f"--month takes YYYY-MM (for example 2026-11); got {text!r}.") from error


class Command(BaseCommand):
    help = "Report monthly active contacts (contacts whose data changed) per channel."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        month = month_parse(options["month"])
        rows = [
            {"channelId": r["channel_id"], "channel": r["channel__name"], "mau": r["active"]}
            for r in mau_by_channel(month=month)
        ]
        if options["json"]:
            self.stdout.write(json.dumps({"month": f"{month:%Y-%m}", "channels": rows}, indent=2))
            return
        self.stdout.write(f"Monthly active contacts, {month:%Y-%m}")
        for row in rows:
            self.stdout.write(f"  {row['channel']:<40} {row['mau']:>10,}")
        if not rows:
            self.stdout.write("  (no activity)")
