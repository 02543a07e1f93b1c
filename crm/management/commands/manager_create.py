"""`manage.py manager_create`: a manager login in a channel with a role."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm import services
from crm.models import Channel


class Command(BaseCommand):
    help = "Create a manager (or add an existing one) to a channel with a role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", type=int, required=True, help="The channel id.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, help="The role's name, e.g. owner or basic.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        channel = Channel.objects.filter(pk=options["channel"]).first()
        if channel is None:
            raise CommandError(f"No channel with id {options['channel']}.")
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
