"""`manage.py manager_create`: a manager login in a channel with a role."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from crm import services
from crm.management.channel_command import ChannelCommand


class Command(ChannelCommand):
    help = "Create a manager (or add an existing one) to a channel with a role."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, help="The role's name, e.g. owner or basic.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        channel = self.channel(options["channel"])
        try:
            role = services.role_get(channel=channel, name=options["role"])
            membership = services.manager_create(
                channel=channel, email=options["email"], password=options["password"], role=role
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        result = {
            "channelId": channel.pk,
            "userId": membership.user_id,
            "email": membership.user.get_username(),
            "role": role.name,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write(f"{result['email']} is {role.name} of channel {channel.pk}.")
