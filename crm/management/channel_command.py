"""The base of the commands that act in one channel, named by `--channel <id>`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.models import Channel
from crm.selectors import channel_get


class ChannelCommand(BaseCommand):
    """Takes `--channel <id>` and finds that channel, or stops naming the id it did not find."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", type=int, required=True, help="The channel id.")

    def channel(self, channel_id: int) -> Channel:
        """The channel with CHANNEL_ID; the command's error when there is none."""
        channel = channel_get(channel_id=channel_id)
        if channel is None:
            raise CommandError(f"No channel with id {channel_id}.")
        return channel
