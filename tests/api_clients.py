"""Test clients of the REST API (/open/v5) that hold an API credential of a channel."""

from __future__ import annotations

from django.test import Client

from crm import services
from crm.models import Channel


def credential_client(
    channel: Channel, role: str = "owner", permissions: list[str] | None = None
) -> Client:
    """A client holding a new API credential of CHANNEL with ROLE (created with PERMISSIONS)."""
    if permissions is not None:
        found = services.role_create(channel=channel, name=role, permissions=permissions)
    else:
        found = services.role_get(channel=channel, name=role)
    issued = services.credential_create(channel=channel, role=found)
    return Client(
        headers={"x-access-key": issued.credential.access_key, "x-access-secret": issued.secret}
    )
