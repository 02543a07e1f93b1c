"""Opening a channel: the one write that spans crm and profile_schema.

The project's composition layer: it sits above both apps (profile_schema builds on crm), so
neither imports the other to set a channel up. The admin's channel add, `manage.py
channel_create`, the demo data and the bench all open channels here."""

from __future__ import annotations

from django.db import transaction

from crm.models import Channel, Plan
from crm.services import channel_create
from profile_schema.services import profile_fields_install_presets


@transaction.atomic
def channel_provision(
    *,
    name: str,
    plan: str = Plan.FREE,
    timezone: str = "Asia/Seoul",
    require_member_hash: bool = False,
    plugin_key: str | None = None,
    member_hash_secret: str | None = None,
) -> Channel:
    """Create a channel with its default roles (owner, basic) and its preset profile fields."""
    channel = channel_create(
        name=name,
        plan=plan,
        timezone=timezone,
        require_member_hash=require_member_hash,
        plugin_key=plugin_key,
        member_hash_secret=member_hash_secret,
    )
    profile_fields_install_presets(channel=channel)
    return channel
