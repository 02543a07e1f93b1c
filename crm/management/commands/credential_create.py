"""`manage.py credential_create`: an API access key + secret for a channel, acting as a role."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from crm import services
from crm.management.channel_command import ChannelCommand


class Command(ChannelCommand):
    help = "Issue an API credential (access key + secret) for a channel with a role."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--role", required=True, help="The role's name, e.g. owner or basic.")
        parser.add_argument("--name", default="", help="A label for the credential.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        channel = self.channel(options["channel"])
        try:
            role = services.role_get(channel=channel, name=options["role"])
            issued = services.credential_create(channel=channel, role=role, name=options["name"])
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        result = {
            "channelId": channel.pk,
            "accessKey": issued.credential.access_key,
            "accessSecret": issued.secret,
            "role": role.name,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write(
                f"access key {result['accessKey']}\naccess secret {result['accessSecret']}"
                "  (shown once)"
            )
