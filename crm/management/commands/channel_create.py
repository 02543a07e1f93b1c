"""`manage.py channel_create`: a channel with presets, default roles and an owner credential."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm import services
from crm.models import Plan
from crm.provisioning import channel_provision


class Command(BaseCommand):
    help = "Create a channel with preset profile fields, default roles and an owner API credential."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--plan", choices=Plan.values, default=Plan.FREE)
        parser.add_argument("--timezone", default="Asia/Seoul")
        parser.add_argument(
            "--require-member-hash",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Refuse SDK boots that name a memberId without a valid memberHash (the "
            "default). --no-require-member-hash lets anyone holding the public plugin key boot "
            "as any member id; such boots read nothing of the member and only fill empty keys.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            channel = channel_provision(
                name=options["name"],
                plan=options["plan"],
                timezone=options["timezone"],
                require_member_hash=options["require_member_hash"],
            )
            owner = services.role_get(channel=channel, name=services.OWNER_ROLE)
            issued = services.credential_create(channel=channel, role=owner, name="owner")
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        result = {
            "id": channel.pk,
            "name": channel.name,
            "plan": channel.plan,
            "timezone": channel.timezone,
            "pluginKey": channel.plugin_key,
            "memberHashSecret": channel.member_hash_secret,
            "requireMemberHash": channel.require_member_hash,
            "credential": {
                "accessKey": issued.credential.access_key,
                "accessSecret": issued.secret,
                "role": owner.name,
            },
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(f"Channel {channel.pk} {channel.name!r} ({channel.plan})")
        self.stdout.write(f"  plugin key:         {channel.plugin_key}")
        self.stdout.write(f"  member-hash secret: {channel.member_hash_secret}")
        self.stdout.write(f"  member hash:        {_member_hash_rule(channel.require_member_hash)}")
        self.stdout.write(f"  API access key:     {issued.credential.access_key}")
        self.stdout.write(f"  API access secret:  {issued.secret}  (shown once)")


def _member_hash_rule(required: bool) -> str:
    if required:
        return "required: a boot with a memberId and no valid memberHash is refused (401)"
    return (
        "NOT required: anyone holding the plugin key may boot as any member id; such a boot "
        "reads nothing of the member and only fills empty profile keys"
    )
