"""Opening a channel: the one write that spans crm and profile_schema.

The project's composition layer: it sits above both apps (profile_schema builds on crm), so
neither imports the other to set a channel up. The admin's channel add, `manage.py
channel_create`, the demo data and the bench all open channels here."""

from __future__ import annotations

from typing import Unpack

from django.db import transaction

from crm.models import Channel
from crm.services import ChannelOptions, channel_create
from profile_schema.services import profile_fields_install_presets


@transaction.atomic
def channel_provision(*, name: str, **options: Unpack[ChannelOptions]) -> Channel:
    """Create a channel with its default roles (owner, basic) and its preset profile fields."""
    channel = channel_create(name=name, **options)
    profile_fields_install_presets(channel=channel)
    return channel
